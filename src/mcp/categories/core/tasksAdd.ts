import { z } from 'zod';
import type { Services } from '../../services.js';
import { actorField, newTaskSchema, taskLine, taskSummarySchema } from '../../schemas/tasks.js';
import { defineTool, ok } from '../../tool.js';

const input = z
  .object({
    tasks: z
      .array(newTaskSchema)
      .min(1)
      .max(100)
      .describe('One task, or a batch with subtasks/dependencies linked by ref'),
    actor: actorField,
  })
  .strict();

const output = z.object({
  added: z.array(z.object({ ref: z.string().optional(), task: taskSummarySchema })),
});

/** Advertised (core): what a caller branches on; every summary field is let through. */
const advertised = z.looseObject({
  added: z.array(
    z.looseObject({
      ref: z.string().optional(),
      task: z.looseObject({ id: z.string(), title: z.string(), status: z.string() }),
    }),
  ),
});

export function tasksAdd(services: Pick<Services, 'tasks'>) {
  return defineTool({
    name: 'tasks_add',
    title: 'Add tasks',
    description:
      'Create work orders: one, or an all-or-none batch whose items link parents and dependencies by ref (cycles refused). Dependencies, output_schema and command_gates are enforced at tasks_complete.',
    inputSchema: input,
    outputSchema: output,
    advertisedOutputSchema: advertised,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    async handler(args, ctx) {
      const added = await services.tasks.add(args.tasks, ctx.actorFor(args.actor));
      const text = `Added ${added.length} task(s):\n${added.map((a) => `${a.ref ? `${a.ref} = ` : ''}${taskLine(a.task)}`).join('\n')}`;
      return ok({ added }, text);
    },
  });
}
