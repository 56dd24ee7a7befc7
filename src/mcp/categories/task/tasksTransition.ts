import { z } from 'zod';
import { STATUSES } from '../../../tasks/model.js';
import type { Services } from '../../services.js';
import { actorField, taskLine, taskRef, taskSummarySchema } from '../../schemas/tasks.js';
import { defineTool, ok } from '../../tool.js';

const input = z
  .object({
    task_id: taskRef.describe('Task id or unique prefix'),
    to: z.enum(STATUSES).describe('Target status; completed only via tasks_complete'),
    reason: z.string().trim().max(1000).optional().describe('Why (recorded in history)'),
    actor: actorField,
  })
  .strict();

export function tasksTransition(services: Pick<Services, 'tasks'>) {
  return defineTool({
    name: 'tasks_transition',
    title: 'Change task status',
    description:
      'Move a task along its lifecycle (draft, ready, active, blocked, review, cancelled, archived, superseded). The server enforces the transition table; a refused move lists the allowed ones.',
    inputSchema: input,
    outputSchema: z.object({ task: taskSummarySchema }),
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(args, ctx) {
      const task = await services.tasks.transition(
        args.task_id,
        args.to,
        args.reason,
        ctx.actorFor(args.actor),
      );
      return ok({ task }, `Now ${task.status}: ${taskLine(task)}`);
    },
  });
}
