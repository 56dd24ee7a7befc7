import { z } from 'zod';
import { PRIORITIES } from '../../../tasks/model.js';
import { expandTemplate } from '../../../tasks/templates.js';
import type { Services } from '../../services.js';
import { actorField, dueField, taskLine, taskRef, taskSummarySchema } from '../../schemas/tasks.js';
import { defineTool, ok } from '../../tool.js';

const input = z
  .object({
    template: z
      .string()
      .max(40)
      .optional()
      .describe('feature, bugfix, research, release, or a project template; omit to list them'),
    title: z.string().trim().min(1).max(150).optional().describe('Fills {{title}}; required with template'),
    params: z.record(z.string(), z.string().max(200)).optional().describe('Other {{placeholders}}'),
    parent: taskRef.optional().describe('Put the new tree under this task'),
    priority: z.enum(PRIORITIES).optional().describe('Priority of the parent task'),
    due: dueField.optional().describe('Due date for every created task (ISO date)'),
    actor: actorField,
  })
  .strict();

const output = z.object({
  templates: z.array(
    z.object({ name: z.string(), description: z.string(), origin: z.string(), tasks: z.number() }),
  ),
  invalid: z.array(z.object({ file: z.string(), error: z.string() })),
  created: z.array(taskSummarySchema).optional(),
});

export function tasksFromTemplate(services: Pick<Services, 'tasks' | 'templates'>) {
  return defineTool({
    name: 'tasks_from_template',
    title: 'Create tasks from a template',
    description:
      'Create a parent task and its subtasks with dependencies from a template (built-in: feature, bugfix, research, release; project templates as JSON in <state>/templates). Without template, lists them.',
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    async handler(args, ctx) {
      const catalog = await services.templates();
      const templates = catalog.templates.map((t) => ({
        name: t.name,
        description: t.description,
        origin: t.origin,
        tasks: t.tasks.length,
      }));
      if (!args.template) {
        const text = templates
          .map((t) => `${t.name} (${t.origin}, ${t.tasks} subtasks): ${t.description}`)
          .join('\n');
        return ok({ templates, invalid: catalog.invalid }, text);
      }
      if (!args.title) {
        return ok({ templates, invalid: catalog.invalid }, 'Give a title to create tasks from the template.');
      }
      const batch = expandTemplate(
        catalog,
        args.template,
        { ...args.params, title: args.title },
        {
          ...(args.parent ? { parent: args.parent } : {}),
          ...(args.priority ? { priority: args.priority } : {}),
          ...(args.due ? { due: args.due } : {}),
        },
      );
      const added = await services.tasks.add(batch, ctx.actorFor(args.actor), 'template');
      const created = added.map((a) => a.task);
      return ok(
        { templates, invalid: catalog.invalid, created },
        `Created ${created.length} task(s) from "${args.template}":\n${created.map(taskLine).join('\n')}`,
      );
    },
  });
}
