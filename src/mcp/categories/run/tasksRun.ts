import { z } from 'zod';
import { PROVIDER_NAMES } from '../../../config/defaults.js';
import { AppError } from '../../../core/errors.js';
import { RUN_DEFAULTS } from '../../../runs/runModel.js';
import type { RunEvent, WaitOutcome } from '../../../runs/supervisor/types.js';
import type { Services } from '../../services.js';
import { actorField, taskRef } from '../../schemas/tasks.js';
import { defineTool, ok } from '../../tool.js';
import {
  callerNodeSchema,
  callerText,
  previewText,
  runSchema,
  runText,
  viewRun,
} from '../../schemas/runs.js';

const workerId = z
  .string()
  .regex(new RegExp(`^(${PROVIDER_NAMES.join('|')})/[\\w.:@-]{1,100}$`))
  .describe('provider/model, e.g. openai/gpt-4o-mini');

const input = z
  .object({
    root: taskRef
      .optional()
      .describe('Run the open subtasks under this task (plan it first with tasks_plan)'),
    resume: z
      .string()
      .max(40)
      .optional()
      .describe('A run id: resume it (after a restart), or take its next node in caller mode'),
    mode: z
      .enum(['agents', 'caller'])
      .default(RUN_DEFAULTS.mode)
      .describe(
        'agents: onboarded workers do the nodes; caller: you do them (tasks_run hands out the next node, you report with tasks_complete)',
      ),
    dry_run: z
      .boolean()
      .default(true)
      .describe('Default true: show the schedule, workers and cost without running'),
    concurrency: z.number().int().min(1).max(16).default(RUN_DEFAULTS.concurrency).describe('Nodes at once'),
    max_cost_usd: z
      .number()
      .min(0)
      .max(1000)
      .optional()
      .describe('The run stops before a call that could pass this'),
    retries: z
      .number()
      .int()
      .min(0)
      .max(5)
      .default(RUN_DEFAULTS.retries)
      .describe('Retries per worker (with the reasons fed back) before reassigning'),
    review: z
      .enum(['auto', 'all', 'none'])
      .default(RUN_DEFAULTS.review)
      .describe('Leader review before completion: auto = limited workers and critical nodes'),
    cache: z
      .boolean()
      .default(RUN_DEFAULTS.cache)
      .describe('Reuse a passing answer to the same prompt, model and schema'),
    max_added: z
      .number()
      .int()
      .min(0)
      .max(20)
      .default(RUN_DEFAULTS.max_added)
      .describe('Nodes the leader may add after results'),
    max_tokens: z
      .number()
      .int()
      .min(100)
      .max(16_000)
      .default(RUN_DEFAULTS.max_tokens)
      .describe('Per worker call'),
    leader: workerId.optional().describe('Reviews and synthesises; default the first configured provider'),
    workers: z.array(workerId).min(1).max(20).optional().describe('Only these interviewed workers'),
    interview: z
      .boolean()
      .optional()
      .describe(
        'With no onboarded worker: interview the configured models first, counted in the budget (the dry run lists them and the cost)',
      ),
    wait_s: z
      .number()
      .min(0)
      .max(600)
      .default(20)
      .describe(
        'Agents mode: return when the run ends or needs a person, or after this long (it goes on; tasks_run_status)',
      ),
    actor: actorField,
  })
  .strict();

const output = z.object({
  dry_run: z.boolean(),
  run: runSchema,
  waves: z.array(z.array(z.string())).optional().describe('Dry run: nodes by the step they can start in'),
  workers: z
    .record(z.string(), z.string().nullable())
    .optional()
    .describe('Dry run: the worker each node would get'),
  estimate_usd: z.number().optional(),
  interviews: z
    .array(z.object({ worker: z.string(), worst_usd: z.number() }))
    .optional()
    .describe('Dry run with no onboarded worker: the models interview: true would interview first'),
  next: callerNodeSchema.optional().describe('Caller mode: the node to do now (claimed for you)'),
  returned: z
    .enum(['ended', 'needs_person', 'wait_s'])
    .optional()
    .describe('Agents mode: why the call returned: the run ended, needs a person, or wait_s passed'),
});

export function tasksRun(services: Pick<Services, 'runs' | 'claims' | 'clock'>) {
  return defineTool({
    name: 'tasks_run',
    title: 'Run a task graph (supervisor)',
    description:
      'Carry out the subtasks under a root: ready nodes run in parallel on onboarded workers (trust, cost), graded, reviewed by the leader when the worker is limited or the node critical, completed through their gates; failures are retried with reasons, reassigned, then blocked for a human (inbox) while the rest goes on; the leader synthesises the root. Persisted: resume after a restart. Dry run by default. mode caller hands you the nodes instead.',
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    async handler(args, ctx) {
      const actor = ctx.actorFor(args.actor);
      const holder = services.claims.holder(ctx.sessionId);
      if ((args.root === undefined) === (args.resume === undefined))
        throw new AppError('INVALID_INPUT', 'Give either root (a new run) or resume (a run id)', {
          hint: 'tasks_run {root: "<task id>"} plans nothing itself: create subtasks first with tasks_plan or tasks_expand',
        });
      let runId: string;
      if (args.resume) {
        const run = await services.runs.get(args.resume);
        runId = run.id;
        if (run.options.mode === 'caller') {
          const next = await services.runs.nextForCaller(run.id, holder, actor);
          const view = viewRun(await services.runs.get(run.id), services.clock.now());
          return ok(
            { dry_run: false, run: view, ...(next ? { next } : {}) },
            next ? callerText(next) : `${runText(view)}\nNo node is ready for you now.`,
          );
        }
        await services.runs.resume(run.id, actor);
      } else {
        const preview = await services.runs.start(
          {
            root: args.root!,
            dry_run: args.dry_run,
            mode: args.mode,
            concurrency: args.concurrency,
            max_cost_usd: args.max_cost_usd,
            retries: args.retries,
            review: args.review,
            cache: args.cache,
            max_added: args.max_added,
            max_tokens: args.max_tokens,
            leader: args.leader,
            workers: args.workers,
            interview: args.interview,
          },
          actor,
        );
        if (args.dry_run)
          return ok(
            {
              dry_run: true,
              run: viewRun(preview.run, services.clock.now()),
              waves: preview.waves,
              workers: preview.workers,
              estimate_usd: preview.estimate_usd,
              ...(preview.interviews.length ? { interviews: preview.interviews } : {}),
            },
            previewText(preview),
          );
        runId = preview.run.id;
        if (args.mode === 'caller') {
          const next = await services.runs.nextForCaller(runId, holder, actor);
          const view = viewRun(await services.runs.get(runId), services.clock.now());
          return ok(
            { dry_run: false, run: view, ...(next ? { next } : {}) },
            `${runText(view)}\n\n${next ? callerText(next) : 'No node is ready.'}`,
          );
        }
      }
      // Agents mode: report progress while waiting (for a client that sent a progress token).
      const onProgress = (e: RunEvent) => {
        if (e.run === runId) void ctx.progress(e.done, e.total, e.message).catch(() => undefined);
      };
      services.runs.events.on('progress', onProgress);
      let returned: WaitOutcome;
      try {
        returned = await services.runs.wait(runId, args.wait_s * 1000);
      } finally {
        services.runs.events.off('progress', onProgress);
      }
      const view = viewRun(await services.runs.get(runId), services.clock.now());
      const why =
        returned === 'needs_person'
          ? view.status === 'budget_exhausted'
            ? '\nReturned: the run stopped on its budget; raise it and resume (tasks_run {resume}).'
            : '\nReturned: the run needs a person. A decision in the inbox (inbox_status; the person approves with `task-orchestrator approve <id>` or on the desk) moves it on by itself.'
          : returned === 'wait_s'
            ? `\nReturned after wait_s (${args.wait_s} s): the run goes on in the background; tasks_run_status shows it.`
            : '';
      return ok({ dry_run: false, run: view, returned }, `${runText(view)}${why}`);
    },
  });
}
