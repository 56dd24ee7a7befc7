import { z } from 'zod';
import { gradedRun } from '../../../spawning/gradedRun.js';
import type { GradedRunResult } from '../../../spawning/gradedRun.js';
import { AppError, describeError } from '../../../core/errors.js';
import type { Services } from '../../services.js';
import { providerField, judgeRepeatsField } from '../../schemas/agents.js';
import { taskRef } from '../../schemas/tasks.js';
import { defineTool, ok } from '../../tool.js';

const MAX_ITEMS = 64;
/** Characters of output shown per agent, shared out so the whole result stays well under the cap. */
const OUTPUT_BUDGET = 48_000;

const input = z
  .object({
    prompts: z
      .array(z.string().trim().min(1).max(100_000))
      .min(1)
      .max(MAX_ITEMS)
      .optional()
      .describe('One agent per prompt'),
    task_ids: z
      .array(taskRef)
      .min(1)
      .max(MAX_ITEMS)
      .optional()
      .describe('One agent per task; passing answers complete their tasks'),
    instructions: z
      .string()
      .max(20_000)
      .optional()
      .describe('With task_ids: what each agent should do (default: complete the task)'),
    concurrency: z
      .number()
      .int()
      .min(1)
      .max(16)
      .default(4)
      .describe('Agents running at once, 1-16; default 4'),
    provider: providerField.optional().describe('Default: the first configured; others serve as fallback'),
    model: z.string().trim().min(1).max(100).optional().describe("Default: the provider's configured model"),
    system_prompt: z.string().max(50_000).optional().describe('Role and rules for every agent'),
    max_tokens: z.number().int().min(1).max(200_000).optional().describe('Output limit per agent'),
    judge_repeats: judgeRepeatsField,
  })
  .strict();

const item = z.object({
  index: z.number(),
  task_id: z.string().optional(),
  status: z.enum(['ok', 'failed', 'cancelled']),
  output: z.string().optional(),
  output_truncated: z.boolean().optional(),
  provider: z.string().optional(),
  model: z.string().optional(),
  cost_usd: z.number().optional(),
  latency_ms: z.number().optional(),
  task: z
    .object({ id: z.string(), completed: z.boolean(), violations: z.array(z.string()).optional() })
    .optional(),
  evaluation: z
    .object({ pass: z.boolean(), score: z.number(), failure_type: z.string().optional() })
    .optional(),
  trial_id: z.string().optional(),
  error: z.string().optional(),
});

const output = z.object({
  results: z.array(item),
  succeeded: z.number(),
  failed: z.number(),
  cancelled: z.number(),
  total_cost_usd: z.number(),
  wall_ms: z.number(),
});

export function spawnParallelAgents(services: Pick<Services, 'graded'>) {
  return defineTool({
    name: 'spawn_parallel_agents',
    title: 'Run agents in parallel',
    description:
      "Run one LLM agent per prompt or per task with bounded concurrency, each protected like spawn_agent. Reports progress as agents finish, each agent's outcome separately (one failure does not fail the rest), and honours cancellation.",
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    async handler(args, ctx) {
      if (!args.prompts === !args.task_ids) {
        throw new AppError('INVALID_INPUT', 'Give either prompts or task_ids', {
          hint: 'prompts: ["..."] runs free-form agents; task_ids: ["t_..."] works on tasks',
        });
      }
      const jobs: Array<{ prompt: string; taskId?: string }> = args.prompts
        ? args.prompts.map((prompt) => ({ prompt }))
        : args.task_ids!.map((taskId) => ({ prompt: args.instructions ?? 'Complete this task.', taskId }));
      const started = Date.now();
      const perOutput = Math.max(500, Math.floor(OUTPUT_BUDGET / jobs.length));
      const results: Array<z.output<typeof item>> = [];
      let next = 0;
      let done = 0;
      const worker = async () => {
        for (;;) {
          const index = next++;
          const job = jobs[index];
          if (!job) return;
          const base = { index, ...(job.taskId ? { task_id: job.taskId } : {}) };
          if (ctx.signal.aborted) {
            results[index] = { ...base, status: 'cancelled' };
            continue;
          }
          let run: { ok: true; value: GradedRunResult } | { ok: false; error: AppError };
          try {
            const value = await gradedRun(
              services.graded,
              {
                prompt: job.prompt,
                taskId: job.taskId,
                provider: args.provider,
                model: args.model,
                system: args.system_prompt,
                maxTokens: args.max_tokens,
                operation: 'spawn_parallel_agents',
                judgeRepeats: args.judge_repeats,
              },
              ctx,
            );
            run = { ok: true, value };
          } catch (error) {
            run = {
              ok: false,
              error: error instanceof AppError ? error : new AppError('INTERNAL', describeError(error)),
            };
          }
          if (run.ok) {
            const r = run.value;
            results[index] = {
              ...base,
              status: 'ok',
              output: r.output.slice(0, perOutput),
              output_truncated: r.output_truncated || r.output.length > perOutput,
              provider: r.provider,
              model: r.model,
              cost_usd: r.cost_usd,
              latency_ms: r.latency_ms,
              ...(r.task ? { task: r.task } : {}),
              evaluation: {
                pass: r.evaluation.pass,
                score: r.evaluation.score,
                ...(r.evaluation.failure_type ? { failure_type: r.evaluation.failure_type } : {}),
              },
              trial_id: r.trial_id,
            };
          } else {
            results[index] = {
              ...base,
              status: ctx.signal.aborted ? 'cancelled' : 'failed',
              error: run.error.describe(),
            };
          }
          done++;
          await ctx.progress(done, jobs.length, `agent ${index + 1} ${results[index]?.status ?? 'done'}`);
        }
      };
      await Promise.all(Array.from({ length: Math.min(args.concurrency, jobs.length) }, worker));
      const count = (s: string) => results.filter((r) => r.status === s).length;
      const value = {
        results,
        succeeded: count('ok'),
        failed: count('failed'),
        cancelled: count('cancelled'),
        total_cost_usd: Number(results.reduce((sum, r) => sum + (r.cost_usd ?? 0), 0).toFixed(6)),
        wall_ms: Date.now() - started,
      };
      const lines = results.map(
        (r) =>
          `#${r.index + 1}${r.task_id ? ` ${r.task_id}` : ''} ${r.status}${r.status === 'ok' ? ` [${r.provider}/${r.model}]: ${r.output?.slice(0, 300)}` : r.error ? `: ${r.error}` : ''}`,
      );
      return ok(
        value,
        [
          `${value.succeeded} ok, ${value.failed} failed, ${value.cancelled} cancelled in ${value.wall_ms} ms ($${value.total_cost_usd}).`,
          ...lines,
        ].join('\n'),
      );
    },
  });
}
