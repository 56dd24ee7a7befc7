import { z } from 'zod';
import { describeGraded, gradedRun } from '../../../spawning/gradedRun.js';
import type { Services } from '../../services.js';
import { agentRunSchema, gradersField, providerField, judgeRepeatsField } from '../../schemas/agents.js';
import { taskRef } from '../../schemas/tasks.js';
import { defineTool, ok } from '../../tool.js';

const input = z
  .object({
    prompt: z.string().trim().min(1).max(200_000).describe('What the agent should do'),
    provider: providerField.optional().describe('Default: the first configured; others serve as fallback'),
    model: z
      .string()
      .trim()
      .min(1)
      .max(100)
      .optional()
      .describe(
        'Default: the provider\'s configured model; "auto" picks by role, output size, schema and max_cost_usd',
      ),
    max_cost_usd: z
      .number()
      .positive()
      .max(1000)
      .optional()
      .describe('With model "auto": the most the call may cost (worst case)'),
    system_prompt: z.string().max(50_000).optional().describe('Role and rules for the agent'),
    max_tokens: z
      .number()
      .int()
      .min(1)
      .max(200_000)
      .optional()
      .describe('Output limit; also bounds the budget reservation (default 4096 reserved)'),
    temperature: z.number().min(0).max(2).optional().describe('Sampling temperature'),
    output_schema: z
      .record(z.string(), z.unknown())
      .optional()
      .describe('JSON Schema the answer must match (answer checked, not trusted)'),
    task_id: taskRef
      .optional()
      .describe(
        "Work on this task: its schema applies and a passing answer completes it through the task's gates",
      ),
    timeout_s: z.number().int().min(1).max(600).optional().describe('Per attempt; default 60'),
    fallback: z.boolean().optional().describe('false: only the requested provider; default true'),
    graders: gradersField
      .optional()
      .describe(
        'Checks for the answer, replacing the default (non_empty, length, refusal, JSON with a schema)',
      ),
    immune_override: z
      .string()
      .trim()
      .min(5)
      .max(500)
      .optional()
      .describe('Run despite an IMMUNE_BLOCKED verdict; say why (recorded)'),
    judge_repeats: judgeRepeatsField,
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
      'Send a prompt to an LLM agent (Gemini, OpenAI or OpenAI-compatible, Anthropic) through budget guards, circuit breakers, retries and provider fallback. Returns the answer with provider, model, token usage, cost and latency. With output_schema the answer is checked against it; with task_id a passing answer completes the task through its gates.',
    inputSchema: input,
    outputSchema: output,
    advertisedOutputSchema: advertised,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    async handler(args, ctx) {
      const run = await gradedRun(
        services.graded,
        {
          prompt: args.prompt,
          provider: args.provider,
          model: args.model,
          system: args.system_prompt,
          maxTokens: args.max_tokens,
          temperature: args.temperature,
          outputSchema: args.output_schema,
          taskId: args.task_id,
          timeoutMs: args.timeout_s ? args.timeout_s * 1000 : undefined,
          fallback: args.fallback,
          maxCostUsd: args.max_cost_usd,
          graders: args.graders,
          immuneOverride: args.immune_override,
          judgeRepeats: args.judge_repeats,
          operation: 'spawn_agent',
        },
        ctx,
      );
      return ok(run, describeGraded(run));
    },
  });
}
