import { z } from 'zod';
import { DEPENDENCY_KINDS } from '../../../tasks/model.js';
import type { Services } from '../../services.js';
import { actorField, taskLine, taskRef, taskSummarySchema } from '../../schemas/tasks.js';
import { defineTool, ok } from '../../tool.js';

const input = z
  .object({
    task_id: taskRef.describe('The task that waits'),
    action: z
      .enum(['add', 'remove', 'waive'])
      .describe('add a dependency, remove it, or waive it (needs reason)'),
    on: taskRef.describe('The task it waits for'),
    kind: z.enum(DEPENDENCY_KINDS).optional().describe('For add: completion (default) | data | approval'),
    reason: z.string().trim().min(1).max(1000).optional().describe('Required for waive'),
    actor: actorField,
  })
  .strict();

export function tasksDepend(services: Pick<Services, 'tasks'>) {
  return defineTool({
    name: 'tasks_depend',
    title: 'Add, remove or waive a dependency',
    description:
      'Make a task wait for another (refused if it would close a cycle; the cycle path is shown), remove that, or waive it with a reason so the task can start anyway (who and why are recorded).',
    inputSchema: input,
    outputSchema: z.object({ task: taskSummarySchema }),
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    async handler(args, ctx) {
      const task = await services.tasks.depend(
        args.task_id,
        args.action,
        args.on,
        args.kind,
        args.reason,
        ctx.actorFor(args.actor),
      );
      return ok(
        { task },
        `Dependency ${args.action === 'add' ? 'added' : args.action === 'remove' ? 'removed' : 'waived'}: ${taskLine(task)}`,
      );
    },
  });
}
