import { z } from 'zod';
import { AppError } from '../../../core/errors.js';
import { planBatch, planWithModel } from '../../../runs/planning.js';
import { CLOSED } from '../../../tasks/model.js';
import type { Services } from '../../services.js';
import { actorField, taskLine, taskRef, taskSummarySchema } from '../../schemas/tasks.js';
import { defineTool, ok } from '../../tool.js';
import { providerField } from '../../schemas/runs.js';

const input = z
  .object({
    task_id: taskRef.describe('The task to split'),
    max_steps: z.number().int().min(2).max(20).default(6).describe('Most subtasks'),
    provider: providerField,
    model: z.string().max(100).optional().describe("The leader model; default the provider's"),
    dry_run: z.boolean().default(true).describe('Default true: show the subtasks without storing them'),
    actor: actorField,
  })
  .strict();

const output = z.object({
  task: z.string(),
  leader: z.string(),
  attempts: z.number(),
  cost_usd: z.number(),
  subtasks: z.array(
    z.object({
      ref: z.string(),
      title: z.string(),
      complexity: z.number(),
      specialist: z.string().optional(),
      critical: z.boolean(),
      acceptance_criteria: z.array(z.string()),
      depends_on: z.array(z.string()),
    }),
  ),
  created: z.array(taskSummarySchema).optional(),
});

export function tasksExpand(services: Pick<Services, 'tasks' | 'planning' | 'spawn'>) {
  return defineTool({
    name: 'tasks_expand',
    title: 'Split a task into subtasks with AI',
    description:
      'The leader model splits one task into subtasks (acceptance criteria, dependencies, complexity 1-10, worker), checked like tasks_plan (a cycle or bad shape is sent back once, then refused). Dry run by default; dry_run: false adds them under the task.',
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    async handler(args, ctx) {
      if (services.spawn.targetsAvailable.length === 0)
        throw new AppError(
          'NO_PROVIDER',
          'Splitting a task needs a model, and no LLM provider is configured',
          {
            hint: 'Set OPENAI_API_KEY, GEMINI_API_KEY or ANTHROPIC_API_KEY (or OPENAI_BASE_URL for a local server); or add subtasks yourself with tasks_add {parent}',
          },
        );
      const { task } = await services.tasks.get(args.task_id);
      if (CLOSED.has(task.status))
        throw new AppError('CONFLICT', `${task.id} is ${task.status}`, { hint: 'Split an open task' });
      const actor = ctx.actorFor(args.actor);
      const outcome = await planWithModel(
        services.planning,
        {
          goal: `Title: ${task.title}${task.description ? `\n\n${task.description}` : ''}`,
          source: `task ${task.id}`,
          split: true,
          maxSteps: args.max_steps,
          provider: args.provider,
          model: args.model,
        },
        { actor, signal: ctx.signal },
      );
      const subtasks = outcome.plan.steps.map((s) => ({
        ref: s.ref,
        title: s.title,
        complexity: s.complexity,
        ...(s.worker ? { specialist: s.worker } : {}),
        critical: s.critical,
        acceptance_criteria: s.acceptance_criteria,
        depends_on: s.depends_on.map((d) => d.ref),
      }));
      const leader = `${outcome.leader.provider}/${outcome.leader.model}`;
      const head = {
        task: task.id,
        leader,
        attempts: outcome.attempts,
        cost_usd: outcome.cost_usd,
        subtasks,
      };
      const list = subtasks
        .map(
          (s, i) =>
            `${i + 1}. ${s.title} [complexity ${s.complexity}${s.specialist ? `, ${s.specialist}` : ''}]${s.depends_on.length ? ` after: ${s.depends_on.join(', ')}` : ''}`,
        )
        .join('\n');
      if (args.dry_run)
        return ok(
          head,
          `${task.id} "${task.title}" split by ${leader}:\n${list}\nNothing was stored (dry run); dry_run: false adds them.`,
        );
      const added = await services.tasks.add(planBatch(outcome.plan, task.id), actor, 'plan');
      const created = added.map((a) => a.task);
      return ok(
        { ...head, created },
        `${task.id} "${task.title}" split by ${leader}:\n${created.map(taskLine).join('\n')}\nRun them with tasks_run {root: "${task.id}"}.`,
      );
    },
  });
}
