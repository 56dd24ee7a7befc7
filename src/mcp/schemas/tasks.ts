/** Schemas shared by the task tools of the core and task categories (categories never import each other). */
import { z } from 'zod';
import { DEPENDENCY_KINDS, PRIORITIES, STATUSES } from '../../tasks/model.js';
import type { TaskSummary } from '../../tasks/summary.js';

export const taskRef = z.string().trim().min(1).max(80);
export const actorField = z
  .string()
  .trim()
  .min(1)
  .max(100)
  .optional()
  .describe("Who acts, for the history (default: the client; over HTTP a label beside the token's subject)");

export const dueField = z
  .string()
  .refine(
    (v) => /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(v) && !Number.isNaN(Date.parse(v)),
    {
      message: 'must be an ISO date like 2026-12-01 or 2026-12-01T17:00:00Z',
    },
  );

export const tagsField = z.array(z.string().trim().min(1).max(40)).max(20);

export const commandGateField = z
  .object({
    command: z.string().min(1).max(40).describe('Allowlisted program, e.g. npm'),
    args: z.array(z.string().max(200)).max(20).default([]).describe('Arguments, e.g. ["test"]'),
    timeout_s: z.number().int().min(1).max(1800).optional().describe('Default 300'),
  })
  .strict();

export const outputSchemaField = z
  .record(z.string(), z.unknown())
  .describe('JSON Schema the completion result must validate against');

export const newTaskSchema = z
  .object({
    ref: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,40}$/)
      .optional()
      .describe('Local name other items of this batch use in parent/depends_on'),
    title: z.string().trim().min(1).max(200),
    description: z.string().max(10_000).optional(),
    priority: z.enum(PRIORITIES).optional().describe('Default medium'),
    status: z.enum(['draft', 'ready']).optional().describe('Default ready'),
    parent: taskRef.optional().describe('Parent: a ref of this batch or a task id'),
    depends_on: z
      .array(
        z
          .object({
            task: taskRef.describe('A ref of this batch or a task id'),
            kind: z
              .enum(DEPENDENCY_KINDS)
              .optional()
              .describe(
                'completion (default) | data (needs its result/artifact) | approval (needs approved: true)',
              ),
          })
          .strict(),
      )
      .max(50)
      .optional(),
    tags: tagsField.optional(),
    due: dueField.optional(),
    estimate_hours: z.number().positive().max(10_000).optional(),
    complexity: z.number().int().min(1).max(10).optional().describe('How hard, 1 (trivial) to 10'),
    specialist: z.string().trim().max(60).optional().describe('Archetype or person, e.g. implementer'),
    output_schema: outputSchemaField.optional(),
    command_gates: z
      .array(commandGateField)
      .max(10)
      .optional()
      .describe('Commands that must exit 0 before completion'),
  })
  .strict();

export const taskSummarySchema = z.object({
  id: z.string(),
  title: z.string(),
  status: z.enum(STATUSES),
  priority: z.enum(PRIORITIES),
  due: z.string().optional(),
  tags: z.array(z.string()),
  parent: z.string().optional(),
  specialist: z.string().optional(),
  complexity: z.number().optional(),
  children: z.object({ total: z.number(), completed: z.number() }).optional(),
  ready_to_start: z.boolean(),
  blocked_by: z.array(z.string()).optional(),
});

/** One line per task for text mirrors: `t_ab12cd34 [ready/high] Title (due …; blocked by …)`. */
export function taskLine(t: TaskSummary): string {
  const extras = [
    t.due ? `due ${t.due}` : '',
    t.complexity !== undefined ? `complexity ${t.complexity}` : '',
    t.children ? `${t.children.completed}/${t.children.total} subtasks done` : '',
    t.blocked_by ? `blocked by ${t.blocked_by.join(', ')}` : '',
    t.ready_to_start ? 'ready to start' : '',
  ].filter(Boolean);
  return `${t.id} [${t.status}/${t.priority}] ${t.title}${extras.length ? ` (${extras.join('; ')})` : ''}`;
}

export const pageFields = {
  limit: z.number().int().min(1).max(100).default(20).describe('Items per page, 1-100; default 20'),
  cursor: z.string().max(200).optional().describe('next_cursor of the previous page'),
};
