import { z } from 'zod';
import { PRIORITIES, STATUSES } from '../../../tasks/model.js';
import type { Services } from '../../services.js';
import { pageFields, taskLine, taskSummarySchema } from '../../schemas/tasks.js';
import { defineTool, ok } from '../../tool.js';

const input = z
  .object({
    status: z
      .array(z.enum(STATUSES))
      .max(9)
      .optional()
      .describe('Only these statuses; default: every open status'),
    priority: z.array(z.enum(PRIORITIES)).max(4).optional().describe('Only these priorities'),
    tag: z.string().max(40).optional().describe('Only tasks with this tag'),
    parent: z.string().max(80).optional().describe('Children of this task id, or "root" for top-level tasks'),
    ready: z.boolean().optional().describe('true: only tasks that can start now (dependencies satisfied)'),
    include_closed: z
      .boolean()
      .optional()
      .describe('Include completed/cancelled/archived/superseded; default false'),
    sort: z
      .enum(['priority', 'due', 'created', 'updated'])
      .optional()
      .describe('Default priority, then due date'),
    order: z.enum(['asc', 'desc']).optional().describe('Default asc (highest priority / earliest first)'),
    ...pageFields,
  })
  .strict();

const output = z.object({
  tasks: z.array(taskSummarySchema),
  total: z.number(),
  next_cursor: z.string().optional(),
});

/** Advertised (core): what a caller branches on; every summary field is let through. */
const advertised = z.looseObject({
  tasks: z.array(
    z.looseObject({ id: z.string(), title: z.string(), status: z.string(), ready_to_start: z.boolean() }),
  ),
  total: z.number(),
  next_cursor: z.string().optional(),
});

export function tasksList(services: Pick<Services, 'tasks'>) {
  return defineTool({
    name: 'tasks_list',
    title: 'List tasks',
    description:
      'List work orders with filters (status, priority, tag, parent, ready-to-start) and sorting; paginated. Each task shows whether it can start and what blocks it. Full details: tasks_get (task category).',
    inputSchema: input,
    outputSchema: output,
    advertisedOutputSchema: advertised,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(args) {
      const page = await services.tasks.list(args);
      const lines = page.items.map(taskLine);
      const text =
        page.total === 0
          ? 'No matching tasks.'
          : `${page.items.length} of ${page.total} task(s)${page.next_cursor ? ` (more: cursor ${page.next_cursor})` : ''}:\n${lines.join('\n')}`;
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
