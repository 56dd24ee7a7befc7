import { z } from 'zod';
import type { Services } from '../../services.js';
import { pageFields, taskLine, taskRef, taskSummarySchema } from '../../schemas/tasks.js';
import { defineTool, ok } from '../../tool.js';

const input = z.object({ task_id: taskRef.describe('Task id or unique prefix'), ...pageFields }).strict();

const output = z.object({
  task: taskSummarySchema,
  entries: z.array(
    z.object({ seq: z.number(), at: z.string(), actor: z.string(), type: z.string(), summary: z.string() }),
  ),
  total: z.number(),
  next_cursor: z.string().optional(),
});

export function tasksHistory(services: Pick<Services, 'tasks'>) {
  return defineTool({
    name: 'tasks_history',
    title: 'Task history',
    description:
      'Who changed what on a task and when, newest first: creation, updates, transitions, dependencies, waivers, failed gates, completion.',
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(args) {
      const page = await services.tasks.history(args.task_id, args);
      const text = [taskLine(page.task), ...page.items.map((e) => `${e.at} ${e.actor}: ${e.summary}`)].join(
        '\n',
      );
      return ok(
        {
          task: page.task,
          entries: page.items,
          total: page.total,
          ...(page.next_cursor ? { next_cursor: page.next_cursor } : {}),
        },
        text,
      );
    },
  });
}
