import { z } from 'zod';
import { PRIORITIES } from '../../../tasks/model.js';
import type { Services } from '../../services.js';
import {
  actorField,
  commandGateField,
  dueField,
  outputSchemaField,
  tagsField,
  taskLine,
  taskRef,
  taskSummarySchema,
} from '../../schemas/tasks.js';
import { defineTool, ok } from '../../tool.js';

const input = z
  .object({
    task_id: taskRef.describe('Task id or unique prefix'),
    title: z.string().trim().min(1).max(200).optional().describe('New title'),
    description: z.string().max(10_000).optional().describe('New description'),
    priority: z.enum(PRIORITIES).optional().describe('New priority'),
    tags: tagsField.optional().describe('Replaces the tags'),
    due: dueField.nullable().optional().describe('ISO date; null clears it'),
    estimate_hours: z.number().positive().max(10_000).nullable().optional().describe('Hours; null clears it'),
    complexity: z.number().int().min(1).max(10).nullable().optional().describe('1-10; null clears it'),
    specialist: z
      .string()
      .trim()
      .max(60)
      .nullable()
      .optional()
      .describe('Archetype or person; null clears it'),
    parent: taskRef.nullable().optional().describe('Move under this task; null makes it top-level'),
    output_schema: outputSchemaField
      .nullable()
      .optional()
      .describe('JSON Schema for the result; null removes it'),
    command_gates: z.array(commandGateField).max(10).optional().describe('Replaces the command gates'),
    note: z.string().trim().min(1).max(10_000).optional().describe('Appends a note'),
    actor: actorField,
  })
  .strict();

export function tasksUpdate(services: Pick<Services, 'tasks'>) {
  return defineTool({
    name: 'tasks_update',
    title: 'Update a task',
    description:
      "Change a task's fields (title, description, priority, tags, due, estimate, complexity, specialist, parent, gates) and/or append a note. Status changes go through tasks_transition, tasks_start or tasks_complete.",
    inputSchema: input,
    outputSchema: z.object({ task: taskSummarySchema }),
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    async handler(args, ctx) {
      const { task_id, note, actor, ...changes } = args;
      const task = await services.tasks.update(task_id, changes as never, note, ctx.actorFor(actor));
      return ok({ task }, `Updated: ${taskLine(task)}`);
    },
  });
}
