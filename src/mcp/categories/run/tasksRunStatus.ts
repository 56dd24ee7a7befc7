import { z } from 'zod';
import type { Services } from '../../services.js';
import { defineTool, ok } from '../../tool.js';
import { runSchema, runText, viewRun } from '../../schemas/runs.js';

const input = z
  .object({
    run_id: z.string().max(40).optional().describe('A run; default: list the recent runs'),
    history: z.number().int().min(0).max(300).default(20).describe('History lines to include'),
  })
  .strict();

const output = z.object({
  run: runSchema.optional(),
  runs: z
    .array(
      z.object({
        run_id: z.string(),
        status: z.string(),
        root: z.string(),
        title: z.string(),
        created_at: z.string(),
        done: z.number(),
        total: z.number(),
      }),
    )
    .optional(),
});

export function tasksRunStatus(services: Pick<Services, 'runs' | 'clock'>) {
  return defineTool({
    name: 'tasks_run_status',
    title: 'Status of a supervisor run',
    description:
      'Where a run stands: per node its state, attempts, worker, cost, latency and grades (with the leader reviews); the critical path, time left, the synthesis and the history. Without run_id, the recent runs.',
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(args) {
      if (args.run_id) {
        const view = viewRun(await services.runs.get(args.run_id), services.clock.now(), args.history);
        return ok({ run: view }, runText(view));
      }
      const runs = (await services.runs.list()).slice(0, 50).map((r) => ({
        run_id: r.id,
        status: r.status,
        root: r.root,
        title: r.title,
        created_at: r.created_at,
        done: r.order.filter((t) => r.nodes[t]!.state === 'done').length,
        total: r.order.length,
      }));
      return ok(
        { runs },
        runs.length
          ? runs
              .map((r) => `${r.run_id} ${r.status} ${r.done}/${r.total} "${r.title}" (${r.created_at})`)
              .join('\n')
          : 'No runs yet: tasks_run {root} starts one.',
      );
    },
  });
}
