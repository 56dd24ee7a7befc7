import { z } from 'zod';
import { describeGraded, gradedRun } from '../../../spawning/gradedRun.js';
import type { Services } from '../../services.js';
import { agentRunSchema, gradersField, providerField, judgeRepeatsField } from '../../schemas/agents.js';
import { parseOptions } from '../../schemas/options.js';
import { taskRef } from '../../schemas/tasks.js';
import { defineTool, ok } from '../../tool.js';

/** The knobs few calls need: validated here, advertised as one short `options` description. */
const optionsSchema = z
  .object({
    temperature: z.number().min(0).max(2).optional(),
    timeout_s: z.number().int().min(1).max(600).optional(),
    fallback: z.boolean().optional(),
    max_cost_usd: z.number().positive().max(1000).optional(),
    graders: gradersField.optional(),
    immune_override: z.string().trim().min(5).max(500).optional(),
    judge_repeats: judgeRepeatsField,
  })
  .strict();

const input = z
  .object({
    prompt: z.string().trim().min(1).max(200_000).describe('What the agent should do'),
    provider: providerField.optional().describe('Default: the first configured; others are fallbacks'),
    model: z
      .string()
      .trim()
      .min(1)
      .max(100)
      .optional()
      .describe('Default: the provider\'s model; "auto" picks one for the work'),
    system_prompt: z.string().max(50_000).optional().describe('Role and rules'),
    max_tokens: z.number().int().min(1).max(200_000).optional().describe('Output limit'),
    output_schema: z.record(z.string(), z.unknown()).optional().describe('JSON Schema the answer must match'),
    task_id: taskRef.optional().describe('A passing answer completes this task through its gates'),
    options: z
      .record(z.string(), z.unknown())
      .optional()
      .describe(
        'Rarely needed: temperature, timeout_s (default 60), fallback (false: this provider only), max_cost_usd (cap for model "auto"), graders (replace the defaults; as evaluate_output\'s), immune_override ("why", to run despite IMMUNE_BLOCKED), judge_repeats',
      ),
  })
  .strict();

const output = agentRunSchema;

/** Advertised (core): what a caller branches on; agentRunSchema (agent category) describes it all. */
const advertised = z.looseObject({
  output: z.string(),
  provider: z.string(),
  model: z.string(),
  cost_usd: z.number(),
  trial_id: z.string(),
  evaluation: z.looseObject({ pass: z.boolean(), score: z.number(), failure_type: z.string().optional() }),
});

export function spawnAgent(services: Pick<Services, 'graded'>) {
  return defineTool({
    name: 'spawn_agent',
    title: 'Run an LLM agent',
    description:
      'Ask an LLM agent (Gemini, OpenAI or compatible, Anthropic) behind budgets, breakers, retries and fallback; the answer is graded and returned with model, usage and cost.',
    inputSchema: input,
    outputSchema: output,
    advertisedOutputSchema: advertised,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    async handler(args, ctx) {
      const options = parseOptions(optionsSchema, args.options);
      const run = await gradedRun(
        services.graded,
        {
          prompt: args.prompt,
          provider: args.provider,
          model: args.model,
          system: args.system_prompt,
          maxTokens: args.max_tokens,
          temperature: options.temperature,
          outputSchema: args.output_schema,
          taskId: args.task_id,
          timeoutMs: options.timeout_s ? options.timeout_s * 1000 : undefined,
          fallback: options.fallback,
          maxCostUsd: options.max_cost_usd,
          graders: options.graders,
          immuneOverride: options.immune_override,
          judgeRepeats: options.judge_repeats,
          operation: 'spawn_agent',
        },
        ctx,
      );
      return ok(run, describeGraded(run));
    },
  });
}
