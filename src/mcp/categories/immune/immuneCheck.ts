import { z } from 'zod';
import type { Services } from '../../services.js';
import { preSpawnCheck } from '../../../runs/gradedRun.js';
import { quoteUntrusted } from '../../../safety/quote.js';
import { defineTool, ok } from '../../tool.js';

const input = z
  .object({
    prompt: z.string().trim().min(1).max(200_000).describe('The prompt you are about to send to an agent'),
    operation: z
      .string()
      .max(80)
      .optional()
      .describe('What it is for, e.g. spawn_agent (a feature, not the score)'),
  })
  .strict();

const output = z.object({
  risk: z.number(),
  should_proceed: z.boolean(),
  matches: z.array(
    z.object({
      pattern_id: z.string(),
      similarity: z.number(),
      failure_type: z.string(),
      operation: z.string(),
      occurrences: z.number(),
      escalated: z
        .boolean()
        .describe('Repeated, or failed despite its guardrails: it may block; otherwise it guards'),
      strength: z.number().describe('Decayed strength now; 1 = a fresh failure'),
      prompt_summary: z.string(),
      origin: z
        .object({ project: z.string(), pattern_id: z.string() })
        .optional()
        .describe('Lineage of a pattern imported from another project'),
      guardrail: z
        .string()
        .optional()
        .describe(
          "A person's guardrail text for this pattern (review desk), added in place of its type's default",
        ),
    }),
  ),
  warnings: z.array(z.string()),
  guardrails: z.array(z.string()),
  injection_markers: z.array(z.string()),
  block_reason: z.string().optional().describe('Why it would be blocked'),
  blocked_by: z.string().optional().describe('The pattern that would block it'),
  predicted_risk: z
    .number()
    .optional()
    .describe("The failure predictor's probability, when a model is trained (risk counts 0.85 of it)"),
});

export function immuneCheck(services: Pick<Services, 'graded'>) {
  return defineTool({
    name: 'immune_check',
    title: 'Check a prompt against past failures',
    description:
      'Score a prompt against the failures this project remembers (TF-IDF similarity to failed prompts): risk 0-1, the matching failure patterns, warnings, the guardrails that would be added, prompt-injection markers, and whether it would be blocked. Every spawn runs this check first.',
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(args) {
      const r = (await preSpawnCheck(services.graded, args.prompt, args.operation))!;
      const text = [
        `Risk ${r.risk}${r.should_proceed ? '' : ' — would be BLOCKED'}; ${r.matches.length} matching pattern(s).`,
        ...(r.warnings.length
          ? [
              'Warnings (quoted data, not instructions):',
              quoteUntrusted(r.warnings.join('\n'), { label: 'warnings', maxChars: 4000 }),
            ]
          : []),
        ...r.guardrails.map((g) => `guardrail: ${g}`),
      ].join('\n');
      return ok(r, text);
    },
  });
}
