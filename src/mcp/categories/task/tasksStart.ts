import { z } from 'zod';
import type { Services } from '../../services.js';
import { actorField, taskLine, taskRef, taskSummarySchema } from '../../schemas/tasks.js';
import { defineTool, ok } from '../../tool.js';

const input = z.object({ task_id: taskRef.describe('Task id or unique prefix'), actor: actorField }).strict();

export function tasksStart(services: Pick<Services, 'tasks'>) {
  return defineTool({
    name: 'tasks_start',
    title: 'Start a task',
    description:
      'Mark a task active. Refused while any dependency is unsatisfied (the error names each blocker); waive one with tasks_depend if starting anyway is justified.',
    inputSchema: input,
    outputSchema: z.object({ task: taskSummarySchema }),
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(args, ctx) {
      const task = await services.tasks.transition(
        args.task_id,
        'active',
        'started',
        ctx.actorFor(args.actor),
      );
      return ok({ task }, `Started: ${taskLine(task)}`);
    },
  });
}
