import { z } from 'zod';
import type { Services } from '../../services.js';
import { actorField } from '../../schemas/tasks.js';
import { defineTool, ok } from '../../tool.js';
import { runSchema, runText, viewRun } from '../../schemas/runs.js';

const input = z
  .object({
    run_id: z.string().min(1).max(40).describe('The run to stop'),
    reason: z.string().trim().min(1).max(500).describe('Why (recorded in its history)'),
    actor: actorField,
  })
  .strict();

export function tasksRunCancel(services: Pick<Services, 'runs' | 'clock'>) {
  return defineTool({
    name: 'tasks_run_cancel',
    title: 'Cancel a supervisor run',
    description:
      'Stop a run: no node starts any more and calls in flight are aborted; finished nodes keep their results and their tasks stay completed.',
    inputSchema: input,
    outputSchema: z.object({ run: runSchema }),
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
    async handler(args, ctx) {
      const run = await services.runs.cancel(args.run_id, ctx.actorFor(args.actor), args.reason);
      const view = viewRun(run, services.clock.now());
      return ok({ run: view }, runText(view));
    },
  });
}
