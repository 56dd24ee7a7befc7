/** Output schema shared by the spawn tools of the core and agent categories. */
import { z } from 'zod';
import { PROVIDER_NAMES } from '../../config/defaults.js';
import { ALL_GRADERS } from '../../evaluation/graders/pipeline.js';

const graderOutcome = z.object({
  grader: z.string(),
  pass: z.boolean(),
  score: z.number(),
  reason: z.string(),
  weight: z.number(),
  disagreement: z.number().optional(),
  ungraded: z.literal(true).optional().describe('Could not grade (judge unavailable): neither pass nor fail'),
  votes: z
    .array(z.object({ judge: z.string(), score: z.number().optional(), reason: z.string() }))
    .optional()
    .describe('Each vote, when judges voted more than once'),
  agreement: z
    .object({ votes: z.number(), pass_votes: z.number(), pass_all: z.boolean(), spread: z.number() })
    .optional()
    .describe('Self-consistency: votes, passing votes, all passed (pass^k), score spread'),
  uncertain: z
    .literal(true)
    .optional()
    .describe('The votes disagreed beyond 0.3: reported, never learned from'),
  judged_by: z.string().optional(),
  cost_usd: z.number().optional(),
  latency_ms: z.number().optional(),
});

export const evaluationSchema = z.object({
  pass: z.boolean(),
  score: z.number(),
  failure_type: z.string().optional(),
  graders: z.array(graderOutcome),
  ungraded: z
    .array(z.object({ grader: z.string(), reason: z.string() }))
    .optional()
    .describe('Criteria not graded and why; the verdict stands on the rest'),
  uncertain: z.array(z.string()).optional().describe('Criteria whose judge votes disagreed'),
  judge_cost_usd: z.number().optional(),
  judge_latency_ms: z.number().optional(),
});

/** Votes per judge criterion (self-consistency). */
export const judgeRepeatsField = z
  .number()
  .int()
  .min(1)
  .max(10)
  .optional()
  .describe(
    'Votes per judge criterion (default 1); with more, the verdict reports their agreement and an uncertain one teaches nothing',
  );

/** Per-call graders (replacing the defaults). */
export const gradersField = z
  .array(
    z
      .object({
        name: z
          .enum(ALL_GRADERS)
          .describe(
            'Code: non_empty | length | refusal | json_valid | json_schema | regex | contains | not_contains. LLM judge: relevance | completeness | accuracy | format | code_quality | safety | performance',
          ),
        weight: z.number().min(0).max(100).optional().describe('Weight in the score; default 1'),
        threshold: z
          .number()
          .min(0)
          .max(1)
          .optional()
          .describe('Pass when the score reaches this (judges: default 0.7)'),
        min: z.number().int().min(0).optional().describe('length: fewest characters'),
        max: z.number().int().min(1).optional().describe('length: most characters'),
        pattern: z.string().max(2000).optional().describe('regex: the pattern'),
        flags: z
          .string()
          .regex(/^[gimsuy]*$/)
          .optional()
          .describe('regex: flags'),
        values: z
          .array(z.string().max(1000))
          .max(100)
          .optional()
          .describe('contains / not_contains: the strings'),
        mode: z.enum(['all', 'any']).optional().describe('contains: all (default) or any'),
        case_sensitive: z.boolean().optional().describe('contains: default false'),
        judges: z
          .array(z.string().regex(/^(openai|gemini|anthropic|claude-code)(\/.+)?$/))
          .max(5)
          .optional()
          .describe('Judge graders: provider/model list; several vote by median'),
      })
      .strict(),
  )
  .min(1)
  .max(20);

export const agentRunSchema = z.object({
  archetype: z.string().optional(),
  model_choice: z
    .object({
      provider: z.string(),
      model: z.string(),
      tier: z.string(),
      worst_case_usd: z.number(),
      reason: z.string(),
    })
    .optional()
    .describe('With model "auto": what was picked and why'),
  output: z.string(),
  output_truncated: z.boolean(),
  provider: z.string(),
  model: z.string(),
  usage: z.object({ input_tokens: z.number(), output_tokens: z.number() }),
  cost_usd: z.number(),
  price_basis: z.string().describe('list, or unknown_model when priced at the conservative default'),
  latency_ms: z.number(),
  trail: z.array(
    z.object({
      provider: z.string(),
      model: z.string(),
      outcome: z.string(),
      attempts: z.number(),
      error: z.string().optional(),
    }),
  ),
  json: z
    .object({ valid: z.boolean(), violations: z.array(z.string()), value: z.unknown().optional() })
    .optional(),
  task: z
    .object({ id: z.string(), completed: z.boolean(), violations: z.array(z.string()).optional() })
    .optional(),
  evaluation: evaluationSchema.describe('How the answer was graded'),
  trial_id: z.string().describe('The trial recording this run (trial_get)'),
  immune: z
    .object({ risk: z.number(), guardrails: z.array(z.string()), matched_patterns: z.number() })
    .optional()
    .describe('Past failures this prompt resembled, and the guardrails added'),
});

export const providerField = z.enum(PROVIDER_NAMES);
