import { z } from 'zod';
import { PRIORITIES, STATUSES } from '../../../tasks/model.js';
import type { Services } from '../../services.js';
import { pageFields, taskLine, taskSummarySchema } from '../../schemas/tasks.js';
import { defineTool, ok } from '../../tool.js';

const input = z
  .object({
    text: z
      .string()
      .trim()
      .min(1)
      .max(500)
      .describe('Words that must all appear in title, description, notes, summary or tags'),
    status: z.array(z.enum(STATUSES)).max(9).optional().describe('Only these statuses'),
    priority: z.array(z.enum(PRIORITIES)).max(4).optional().describe('Only these priorities'),
    tag: z.string().max(40).optional().describe('Only tasks with this tag'),
    include_closed: z.boolean().optional().describe('Search closed tasks too; default false'),
    ...pageFields,
  })
  .strict();

const output = z.object({
  tasks: z.array(taskSummarySchema.extend({ score: z.number() })),
  total: z.number(),
  next_cursor: z.string().optional(),
});

export function tasksQuery(services: Pick<Services, 'tasks'>) {
  return defineTool({
    name: 'tasks_query',
    title: 'Search tasks',
    description:
      'Full-text search over tasks (title matches rank first) with status, priority and tag filters; paginated.',
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(args) {
      const page = await services.tasks.query(args.text, args);
      const text = page.total === 0 ? `No task matches "${args.text}".` : page.items.map(taskLine).join('\n');
      return ok(
        {
          tasks: page.items,
          total: page.total,
          ...(page.next_cursor ? { next_cursor: page.next_cursor } : {}),
        },
        text,
      );
    },
  });
}
