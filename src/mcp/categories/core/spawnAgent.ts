import { z } from 'zod';
import { extractJson } from '../../../agents/jsonOutput.js';
import { AppError } from '../../../core/errors.js';
import { SchemaCache } from '../../../tasks/gates.js';
import { GateFailure } from '../../../tasks/taskService.js';
import type { Services } from '../../services.js';
import { taskRef } from '../../schemas/tasks.js';
import { defineTool, fail, ok } from '../../tool.js';

const MAX_OUTPUT_CHARS = 30_000;

const input = z
  .object({
    prompt: z.string().trim().min(1).max(200_000).describe('What the agent should do'),
    provider: z
      .enum(['openai', 'gemini', 'anthropic'])
      .optional()
      .describe('Default: the first configured; others serve as fallback'),
    model: z.string().trim().min(1).max(100).optional().describe("Default: the provider's configured model"),
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
  })
  .strict();

const output = z.object({
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
});

export function spawnAgent(services: Services) {
  const schemas = new SchemaCache();
  return defineTool({
    name: 'spawn_agent',
    title: 'Run an LLM agent',
    description:
      'Send a prompt to an LLM agent (Gemini, OpenAI or OpenAI-compatible, Anthropic) through budget guards, circuit breakers, retries and provider fallback. Returns the answer with provider, model, token usage, cost and latency. With output_schema the answer is checked against it; with task_id a passing answer completes the task through its gates.',
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    async handler(args, ctx) {
      let schema = args.output_schema;
      let prompt = args.prompt;
      if (args.task_id) {
        const { task } = await services.tasks.get(args.task_id);
        schema ??= task.output_schema;
        prompt = `Task ${task.id}: ${task.title}${task.description ? `\n\n${task.description}` : ''}\n\n${args.prompt}`;
      }
      if (schema) {
        schemas.validator(schema); // a bad schema is refused before any money is spent
        prompt += `\n\nAnswer with JSON only, matching this JSON Schema:\n${JSON.stringify(schema)}`;
      }
      const outcome = await services.spawn.run({
        prompt,
        operation: 'spawn_agent',
        ...(args.provider ? { provider: args.provider } : {}),
        ...(args.model ? { model: args.model } : {}),
        ...(args.system_prompt ? { system: args.system_prompt } : {}),
        ...(args.max_tokens !== undefined ? { maxTokens: args.max_tokens } : {}),
        ...(args.temperature !== undefined ? { temperature: args.temperature } : {}),
        ...(schema ? { jsonSchema: schema } : {}),
        ...(args.timeout_s ? { timeoutMs: args.timeout_s * 1000 } : {}),
        ...(args.fallback !== undefined ? { fallback: args.fallback } : {}),
        signal: ctx.signal,
      });
      if (!outcome.ok) return fail(outcome.error);
      let json: { valid: boolean; violations: string[]; value?: unknown } | undefined;
      if (schema) {
        const extracted = extractJson(outcome.output);
        json = extracted.ok
          ? { valid: false, violations: schemas.violations(schema, extracted.value), value: extracted.value }
          : { valid: false, violations: [extracted.reason] };
        json.valid = json.violations.length === 0;
      }
      let task: { id: string; completed: boolean; violations?: string[] } | undefined;
      if (args.task_id) {
        const id = (await services.tasks.get(args.task_id)).task.id;
        if (json && !json.valid) {
          task = { id, completed: false, violations: json.violations };
        } else {
          try {
            await services.tasks.complete(
              id,
              {
                ...(json?.value !== undefined ? { result: json.value } : {}),
                summary: outcome.output.slice(0, 1000),
                detailed_work: outcome.output,
                artifact_name: 'agent_output.md',
                note: `completed by spawn_agent via ${outcome.provider}/${outcome.model}`,
              },
              ctx.actor,
              ctx.signal,
            );
            task = { id, completed: true };
          } catch (error) {
            if (error instanceof GateFailure) task = { id, completed: false, violations: error.violations };
            else if (error instanceof AppError)
              task = { id, completed: false, violations: [error.describe()] };
            else throw error;
          }
        }
      }
      const truncated = outcome.output.length > MAX_OUTPUT_CHARS;
      const value = {
        output: truncated ? outcome.output.slice(0, MAX_OUTPUT_CHARS) : outcome.output,
        output_truncated: truncated,
        provider: outcome.provider,
        model: outcome.model,
        usage: outcome.usage,
        cost_usd: Number(outcome.cost_usd.toFixed(6)),
        price_basis: outcome.price_basis,
        latency_ms: outcome.latency_ms,
        trail: outcome.trail,
        ...(json ? { json } : {}),
        ...(task ? { task } : {}),
      };
      const fallbackNote =
        outcome.trail.length > 1
          ? ` after ${outcome.trail
              .slice(0, -1)
              .map((t) => `${t.provider} ${t.outcome}`)
              .join(', ')}`
          : '';
      const header = `[${outcome.provider}/${outcome.model}${fallbackNote}; ${outcome.usage.input_tokens}+${outcome.usage.output_tokens} tokens; $${value.cost_usd}; ${outcome.latency_ms} ms]`;
      const notes = [
        json
          ? json.valid
            ? 'JSON matches the schema.'
            : `JSON check failed: ${json.violations.join('; ')}`
          : '',
        task
          ? task.completed
            ? `Task ${task.id} completed.`
            : `Task ${task.id} stays open: ${task.violations?.join('; ')}`
          : '',
        truncated ? `[output truncated at ${MAX_OUTPUT_CHARS} characters]` : '',
      ].filter(Boolean);
      return ok(value, [header, value.output, ...notes].join('\n'));
    },
  });
}
