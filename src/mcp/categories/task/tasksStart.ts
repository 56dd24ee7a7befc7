import { z } from 'zod';
import { AppError } from '../../../core/errors.js';
import type { Services } from '../../services.js';
import { actorField, taskLine, taskRef, taskSummarySchema } from '../../schemas/tasks.js';
import { defineTool, ok } from '../../tool.js';

const input = z.object({ task_id: taskRef.describe('Task id or unique prefix'), actor: actorField }).strict();

export function tasksStart(services: Pick<Services, 'tasks' | 'claims'>) {
  return defineTool({
    name: 'tasks_start',
    title: 'Start a task',
    description:
      'Mark a task active and claim it for this session (another session or server cannot start it while the claim lives; it lapses when this server stops). Refused while any dependency is unsatisfied (the error names each blocker); waive one with tasks_depend if starting anyway is justified.',
    inputSchema: input,
    outputSchema: z.object({ task: taskSummarySchema }),
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(args, ctx) {
      const actor = ctx.actorFor(args.actor);
      const { task: found } = await services.tasks.get(args.task_id);
      const holder = services.claims.holder(ctx.sessionId);
      const claim = await services.claims.claim(found.id, holder, actor);
      if (!claim.ok)
        throw new AppError(
          'CONFLICT',
          `${found.id} is claimed by ${claim.claim.label} since ${claim.claim.claimed_at}`,
          {
            hint: `Pick another task (tasks_next); the claim lapses ${Math.max(0, Math.round((claim.claim.expires_at - Date.now()) / 1000))} s after its holder stops renewing it`,
          },
        );
      try {
        const task = await services.tasks.transition(found.id, 'active', 'started', actor);
        return ok({ task }, `Started and claimed: ${taskLine(task)}`);
      } catch (error) {
        if (!claim.renewed) await services.claims.release(found.id, holder);
        throw error;
      }
    },
  });
}
