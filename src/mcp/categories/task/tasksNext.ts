import { z } from 'zod';
import type { Services } from '../../services.js';
import { taskLine, taskRef, taskSummarySchema } from '../../schemas/tasks.js';
import { defineTool, ok } from '../../tool.js';

const input = z
  .object({
    tag: z.string().max(40).optional().describe('Only tasks with this tag'),
    specialist: z.string().max(60).optional().describe('Only tasks for this archetype/person'),
    parent: taskRef.optional().describe('Only tasks below this one (at any depth)'),
  })
  .strict();

const pick = z.object({ task: taskSummarySchema, critical_path: z.number(), reasons: z.array(z.string()) });
const output = z.object({ next: pick.optional(), alternatives: z.array(pick) });

export function tasksNext(services: Pick<Services, 'tasks'>) {
  return defineTool({
    name: 'tasks_next',
    title: 'Best task to do next',
    description:
      'The best task to start now: a ready leaf (never a parent whose subtasks are open) whose dependencies are satisfied, by priority (a subtask counts with its most urgent open parent), then due date, then how long the chain of work waiting on it is. Returns the pick with reasons and up to 3 alternatives.',
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(args) {
      const [first, ...rest] = await services.tasks.next(args);
      if (!first)
        return ok({ alternatives: [] }, 'No task can start now (no ready leaf with satisfied dependencies).');
      const text = [
        `Next: ${taskLine(first.task)}`,
        `Why: ${first.reasons.join('; ')}`,
        ...rest.map((r) => `Also: ${taskLine(r.task)}`),
      ].join('\n');
      return ok({ next: first, alternatives: rest }, text);
    },
  });
}
