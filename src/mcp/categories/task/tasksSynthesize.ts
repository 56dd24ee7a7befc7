import { z } from 'zod';
import type { Services } from '../../services.js';
import { taskRef, taskSummarySchema } from '../../schemas/tasks.js';
import { defineTool, ok } from '../../tool.js';

const input = z.object({ task_id: taskRef.describe('The parent task') }).strict();

const artifact = z.object({ name: z.string(), path: z.string(), bytes: z.number() });
const output = z.object({
  task: taskSummarySchema,
  progress: z.object({
    total: z.number(),
    completed: z.number(),
    closed_other: z.number(),
    open: z.number(),
  }),
  children: z.array(
    z.object({
      id: z.string(),
      title: z.string(),
      status: z.string(),
      summary: z.string().optional(),
      result: z.unknown().optional(),
      artifacts: z.array(artifact),
      subtasks: z.number(),
    }),
  ),
  artifacts: z.array(artifact),
  report: z.string().describe('The combined results as Markdown'),
  complete: z.boolean().describe('Every subtask closed'),
});

export function tasksSynthesize(services: Pick<Services, 'tasks'>) {
  return defineTool({
    name: 'tasks_synthesize',
    title: "Combine a parent's results",
    description:
      "Combine the results of a task's subtasks into one report: each child's status, summary and result, with artifact paths listed, and overall progress.",
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(args) {
      const s = await services.tasks.synthesize(args.task_id);
      return ok(s, s.report);
    },
  });
}
