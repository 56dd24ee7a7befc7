import { z } from 'zod';
import { expandTemplate } from '../../../tasks/templates.js';
import type { Services } from '../../services.js';
import { actorField, taskLine, taskRef, taskSummarySchema } from '../../schemas/tasks.js';
import { defineTool, ok } from '../../tool.js';

/** Keyword rules for choosing a template; first match wins, feature is the default. */
const RULES: Array<[RegExp, string]> = [
  [/\b(bug|fix|broken|crash(es|ing)?|error|regression|fails?|failing)\b/i, 'bugfix'],
  [/\b(release|publish|ship v?\d|launch v?\d|version \d)/i, 'release'],
  [/\b(research|investigate|evaluate|compare|explore|study|find out|should we)\b/i, 'research'],
];

const input = z
  .object({
    goal: z.string().trim().min(3).max(300).describe('What should be achieved, in a sentence'),
    template: z
      .string()
      .max(40)
      .optional()
      .describe('Use this template instead of choosing one from the goal'),
    create: z.boolean().default(false).describe('true creates the tasks; default false only shows the plan'),
    parent: taskRef.optional().describe('Put the plan under this task'),
    actor: actorField,
  })
  .strict();

const output = z.object({
  mode: z.literal('template'),
  mode_reason: z.string(),
  template: z.string(),
  steps: z.array(
    z.object({ title: z.string(), specialist: z.string().optional(), depends_on: z.array(z.string()) }),
  ),
  created: z.array(taskSummarySchema).optional(),
});

export function tasksPlan(services: Pick<Services, 'tasks' | 'templates'>) {
  return defineTool({
    name: 'tasks_plan',
    title: 'Plan a goal as subtasks',
    description:
      'Decompose a goal into a parent task and subtasks with dependencies and specialists. Shows the plan; create: true creates it. The plan comes from the best-matching template (bugfix, release, research, feature, or a project template).',
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    async handler(args, ctx) {
      const catalog = await services.templates();
      const chosen = args.template ?? RULES.find(([re]) => re.test(args.goal))?.[1] ?? 'feature';
      const batch = expandTemplate(
        catalog,
        chosen,
        { title: args.goal },
        args.parent ? { parent: args.parent } : {},
      );
      const reason = `Planned from the "${chosen}" template${args.template ? '' : ' (chosen by keywords in the goal)'}; plans are not written by a model yet (that comes with supervisor runs).`;
      const steps = batch.slice(1).map((t) => ({
        title: t.title,
        ...(t.specialist ? { specialist: t.specialist } : {}),
        depends_on: (t.depends_on ?? []).map((d) => batch.find((b) => b.ref === d.task)?.title ?? d.task),
      }));
      const planText = [
        `Plan for "${args.goal}" (${chosen}):`,
        ...steps.map(
          (s, i) =>
            `${i + 1}. ${s.title}${s.specialist ? ` [${s.specialist}]` : ''}${s.depends_on.length ? ` after: ${s.depends_on.join(', ')}` : ''}`,
        ),
      ];
      if (!args.create) {
        return ok(
          { mode: 'template' as const, mode_reason: reason, template: chosen, steps },
          `${planText.join('\n')}\nCall again with create: true to create these tasks.\n${reason}`,
        );
      }
      const added = await services.tasks.add(batch, ctx.actorFor(args.actor), 'template');
      const created = added.map((a) => a.task);
      return ok(
        { mode: 'template' as const, mode_reason: reason, template: chosen, steps, created },
        `${planText.join('\n')}\nCreated:\n${created.map(taskLine).join('\n')}\n${reason}`,
      );
    },
  });
}
