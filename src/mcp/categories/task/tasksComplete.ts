import { ENDED_RUN } from '../../../runs/runModel.js';
import { z } from 'zod';
import { AppError } from '../../../core/errors.js';
import { callerNodeSchema, callerText } from '../../schemas/runs.js';
import type { Services } from '../../services.js';
import { actorField, taskLine, taskRef, taskSummarySchema } from '../../schemas/tasks.js';
import { defineTool, ok } from '../../tool.js';

const input = z
  .object({
    task_id: taskRef.describe('Task id or unique prefix'),
    result: z.unknown().optional().describe("Structured result; validated against the task's output_schema"),
    summary: z.string().trim().max(4000).optional().describe('What was done, in a few sentences'),
    detailed_work: z
      .string()
      .max(5_000_000)
      .optional()
      .describe('Long output, stored as an artifact file (not returned)'),
    artifact_name: z
      .string()
      .max(100)
      .optional()
      .describe('File name for detailed_work; default detailed_work.md'),
    approved: z.boolean().optional().describe('For approval tasks: true lets tasks that need approval start'),
    note: z.string().trim().max(10_000).optional().describe('Appended to the task notes'),
    actor: actorField,
  })
  .strict();

const output = z.object({
  task: taskSummarySchema,
  gates: z.array(
    z.object({
      gate: z.string(),
      ok: z.boolean(),
      status: z
        .enum(['passed', 'failed', 'not_run'])
        .describe('not_run: execution off, or the gate is no longer allowed'),
      exit_code: z.number().nullable(),
      duration_ms: z.number(),
    }),
  ),
  artifacts: z.array(z.object({ name: z.string(), path: z.string(), bytes: z.number() })),
  parent: z
    .object({ id: z.string(), title: z.string(), total: z.number(), completed: z.number(), open: z.number() })
    .optional()
    .describe("Progress of the task's parent"),
  run: z
    .object({ run_id: z.string(), status: z.string(), next: callerNodeSchema.optional() })
    .optional()
    .describe('Caller-mode runs: the run this node belongs to and your next node'),
});

export function tasksComplete(services: Pick<Services, 'tasks' | 'claims' | 'runs'>) {
  return defineTool({
    name: 'tasks_complete',
    title: 'Complete a task (gates enforced)',
    description:
      'Complete a task only if every gate passes: dependencies satisfied, subtasks closed, result valid against output_schema, every command gate exits 0. Otherwise the task stays open and every violation is returned. detailed_work is saved as an artifact file.',
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    async handler(args, ctx) {
      const { task_id, actor, ...rest } = args;
      const who = ctx.actorFor(actor);
      const { task } = await services.tasks.get(task_id);
      const holder = services.claims.holder(ctx.sessionId);
      const claim = await services.claims.holderOf(task.id);
      if (claim && claim.holder !== holder)
        throw new AppError('CONFLICT', `${task.id} is claimed by ${claim.label} since ${claim.claimed_at}`, {
          hint: 'Only its holder completes it while the claim lives; pick another task (tasks_next)',
        });
      // A node of a caller-mode run: its graders, the leader's review and then the gates decide.
      const run = await services.runs.callerRunOf(task.id);
      const outcome = run
        ? await services.runs.completeFromCaller(run, task.id, rest, holder, who, ctx.signal)
        : undefined;
      const done = outcome?.done ?? (await services.tasks.complete(task.id, rest, who, ctx.signal));
      if (!outcome) await services.claims.release(task.id);
      const gates = done.gates.map(({ gate, ok: passed, status, exit_code, duration_ms }) => ({
        gate,
        ok: passed,
        status,
        exit_code,
        duration_ms,
      }));
      const lines = [
        `Completed: ${taskLine(done.task)}`,
        ...gates.map((g) =>
          g.status === 'passed'
            ? `gate passed: ${g.gate} (${g.duration_ms} ms)`
            : `gate ${g.status} (waived): ${g.gate}`,
        ),
        ...done.artifacts.map((a) => `artifact: ${a.path} (${a.bytes} bytes)`),
        done.parent
          ? `Parent ${done.parent.id} "${done.parent.title}": ${done.parent.completed}/${done.parent.total} subtasks completed`
          : '',
        outcome
          ? outcome.next
            ? `\nRun ${outcome.run.id}: ${callerText(outcome.next)}`
            : `Run ${outcome.run.id}: ${outcome.run.status}${ENDED_RUN.has(outcome.run.status) ? '' : '; no node is ready for you now (tasks_run_status)'}`
          : '',
      ].filter(Boolean);
      return ok(
        {
          task: done.task,
          gates,
          artifacts: done.artifacts,
          ...(done.parent ? { parent: done.parent } : {}),
          ...(outcome
            ? {
                run: {
                  run_id: outcome.run.id,
                  status: outcome.run.status,
                  ...(outcome.next ? { next: outcome.next } : {}),
                },
              }
            : {}),
        },
        lines.join('\n'),
      );
    },
  });
}
