import { z } from 'zod';
import type { Services } from '../../services.js';
import { taskLine, taskRef, taskSummarySchema } from '../../schemas/tasks.js';
import { defineTool, ok } from '../../tool.js';

const input = z.object({ task_id: taskRef.describe('Task id or unique prefix') }).strict();

const output = z.object({
  summary: taskSummarySchema,
  task: z.record(z.string(), z.unknown()).describe('Every field of the task'),
  blockers: z.array(z.object({ task: z.string(), kind: z.string(), reason: z.string() })),
});

export function tasksGet(services: Pick<Services, 'tasks'>) {
  return defineTool({
    name: 'tasks_get',
    title: 'Get a task',
    description:
      'Everything about one task: description, notes, dependencies (with waivers), gates, result, artifacts, timestamps, and what blocks it now.',
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(args) {
      const { task, summary, blockers } = await services.tasks.get(args.task_id);
      const text = [
        taskLine(summary),
        task.description ? `\n${task.description}` : '',
        blockers.length
          ? `\nBlocked by: ${blockers.map((b) => `${b.task} (${b.kind}: ${b.reason})`).join('; ')}`
          : '',
        `\n${JSON.stringify(task)}`,
      ].join('');
      return ok({ summary, task: task as unknown as Record<string, unknown>, blockers }, text);
    },
  });
}
