import { promises as fs } from 'node:fs';
import { z } from 'zod';
import { AppError } from '../../../core/errors.js';
import { planBatch, planWithModel } from '../../../runs/planning.js';
import type { PlanOutcome } from '../../../runs/planning.js';
import { resolveInside } from '../../../safety/paths.js';
import type { NewTask } from '../../../tasks/batch.js';
import { expandTemplate } from '../../../tasks/templates.js';
import type { Services } from '../../services.js';
import { actorField, taskLine, taskRef, taskSummarySchema } from '../../schemas/tasks.js';
import { providerField } from '../../schemas/runs.js';
import { defineTool, ok } from '../../tool.js';

/** Keyword rules for choosing a template; first match wins, feature is the default. */
const RULES: Array<[RegExp, string]> = [
  [/\b(bug|fix|broken|crash(es|ing)?|error|regression|fails?|failing)\b/i, 'bugfix'],
  [/\b(release|publish|ship v?\d|launch v?\d|version \d)/i, 'release'],
  [/\b(research|investigate|evaluate|compare|explore|study|find out|should we)\b/i, 'research'],
];

const MAX_FILE_BYTES = 200_000;

const input = z
  .object({
    goal: z
      .string()
      .trim()
      .min(3)
      .max(2000)
      .optional()
      .describe('What should be achieved, in a sentence or a paragraph'),
    file: z
      .string()
      .max(500)
      .optional()
      .describe('A goal document or PRD (markdown/text) inside the project, planned instead of or with goal'),
    template: z
      .string()
      .max(40)
      .optional()
      .describe('Use this template instead of a model (no provider needed)'),
    provider: providerField,
    model: z.string().max(100).optional().describe("The leader model; default the provider's"),
    max_steps: z.number().int().min(1).max(40).default(12).describe('Most tasks the plan may have'),
    dry_run: z.boolean().optional().describe('Default true: show the plan without storing it'),
    create: z.boolean().optional().describe('Same as dry_run: false (kept for older callers)'),
    parent: taskRef.optional().describe('Put the plan under this task (default: a new task for the goal)'),
    actor: actorField,
  })
  .strict();

const step = z.object({
  ref: z.string().optional(),
  title: z.string(),
  description: z.string().optional(),
  acceptance_criteria: z.array(z.string()).optional(),
  specialist: z.string().optional(),
  complexity: z.number().optional(),
  critical: z.boolean().optional(),
  risks: z.array(z.string()).optional(),
  gates: z.array(z.string()).optional().describe('Command gates the step must pass'),
  output_schema: z.boolean().optional().describe('The step has a result schema'),
  depends_on: z.array(z.string()).describe('Titles of the steps it waits for'),
});

const output = z.object({
  mode: z.enum(['model', 'template']),
  mode_reason: z.string(),
  template: z.string().optional(),
  leader: z.string().optional(),
  attempts: z.number().optional().describe('Model plans: 2 when the first answer was refused'),
  rejected: z.array(z.string()).optional().describe('What was wrong with a refused first answer'),
  summary: z.string().optional(),
  risks: z.array(z.string()).optional(),
  cost_usd: z.number().optional(),
  steps: z.array(step),
  created: z.array(taskSummarySchema).optional(),
});

type Step = z.infer<typeof step>;

/** The goal text: the goal, the document, or both (the document quoted after the goal). */
async function goalText(
  services: Pick<Services, 'config'>,
  args: { goal?: string | undefined; file?: string | undefined },
): Promise<{ text: string; source: string; title: string }> {
  if (!args.goal && !args.file)
    throw new AppError('INVALID_INPUT', 'Give a goal or a file', {
      hint: 'goal: "what to achieve", or file: "docs/prd.md"',
    });
  if (!args.file)
    return { text: args.goal!, source: 'goal', title: args.goal!.split('\n')[0]!.slice(0, 200) };
  const { config } = services;
  const file = await resolveInside([config.projectDir], args.file, {
    what: 'Goal document',
    exclude: [config.stateDir],
  });
  const size = (await fs.stat(file)).size;
  if (size > MAX_FILE_BYTES)
    throw new AppError(
      'INVALID_INPUT',
      `${args.file} is ${size} bytes; at most ${MAX_FILE_BYTES} are planned from`,
      {
        hint: 'Plan a section of it (split the file), or give the goal in a sentence',
      },
    );
  const doc = await fs.readFile(file, 'utf8');
  const heading = /^#\s+(.+)$/m.exec(doc)?.[1]?.trim();
  return {
    text: args.goal ? `${args.goal}\n\n${doc}` : doc,
    source: `goal document ${args.file}`,
    title: (args.goal?.split('\n')[0] ?? heading ?? args.file).slice(0, 200),
  };
}

export function tasksPlan(services: Pick<Services, 'tasks' | 'templates' | 'planning' | 'spawn' | 'config'>) {
  return defineTool({
    name: 'tasks_plan',
    title: 'Plan a goal as a task graph',
    description:
      'Decompose a goal or a goal document (PRD) into subtasks: with a provider the leader model writes a validated graph (acceptance criteria, dependencies, complexity 1-10, worker, risks, output schemas and command gates); a plan with a cycle or a bad shape is sent back once, then refused. Without a provider (or with template) it uses a template and says so. Dry run by default; dry_run: false stores it. tasks_run carries it out.',
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    async handler(args, ctx) {
      if (args.dry_run !== undefined && args.create !== undefined && args.dry_run === args.create)
        throw new AppError('INVALID_INPUT', 'dry_run and create say opposite things', {
          hint: 'Give only dry_run (false stores the plan)',
        });
      const store = args.dry_run === false || args.create === true;
      const actor = ctx.actorFor(args.actor);
      const goal = await goalText(services, args);
      const useModel = !args.template && services.spawn.targetsAvailable.length > 0;
      let batch: NewTask[];
      let steps: Step[];
      let head: Record<string, unknown>;
      let lines: string[];
      if (useModel) {
        const outcome: PlanOutcome = await planWithModel(
          services.planning,
          {
            goal: goal.text,
            source: goal.source,
            maxSteps: args.max_steps,
            provider: args.provider,
            model: args.model,
          },
          { actor, signal: ctx.signal },
        );
        const parentRef = args.parent ?? '__goal';
        batch = [
          ...(args.parent
            ? []
            : [
                {
                  ref: '__goal',
                  title: goal.title,
                  description: [
                    outcome.plan.summary,
                    outcome.plan.risks.length
                      ? `Risks:\n${outcome.plan.risks.map((r) => `- ${r}`).join('\n')}`
                      : '',
                  ]
                    .filter(Boolean)
                    .join('\n\n'),
                  tags: ['planned'],
                },
              ]),
          ...planBatch(outcome.plan, parentRef),
        ];
        const titleOf = new Map(outcome.plan.steps.map((s) => [s.ref, s.title]));
        steps = outcome.plan.steps.map((s) => ({
          ref: s.ref,
          title: s.title,
          ...(s.description ? { description: s.description } : {}),
          acceptance_criteria: s.acceptance_criteria,
          ...(s.worker ? { specialist: s.worker } : {}),
          complexity: s.complexity,
          critical: s.critical,
          risks: s.risks,
          ...(s.command_gates.length
            ? { gates: s.command_gates.map((g) => [g.command, ...g.args].join(' ')) }
            : {}),
          ...(s.output_schema ? { output_schema: true } : {}),
          depends_on: s.depends_on.map((d) => titleOf.get(d.ref) ?? d.ref),
        }));
        const leader = `${outcome.leader.provider}/${outcome.leader.model}`;
        head = {
          mode: 'model' as const,
          mode_reason: `Planned by ${leader}${outcome.attempts > 1 ? ' (the first plan was refused and sent back once)' : ''}; checked for shape, known refs and workers, no cycle, allowed gates.`,
          leader,
          attempts: outcome.attempts,
          ...(outcome.rejected ? { rejected: outcome.rejected } : {}),
          summary: outcome.plan.summary,
          risks: outcome.plan.risks,
          cost_usd: outcome.cost_usd,
        };
        lines = [
          `Plan for "${goal.title}" by ${leader}:`,
          ...steps.map(
            (s, i) =>
              `${i + 1}. ${s.title} [complexity ${s.complexity}${s.specialist ? `, ${s.specialist}` : ''}${s.critical ? ', critical' : ''}]${s.depends_on.length ? ` after: ${s.depends_on.join(', ')}` : ''}`,
          ),
          outcome.plan.risks.length ? `Risks: ${outcome.plan.risks.join('; ')}` : '',
        ];
      } else {
        const catalog = await services.templates();
        const chosen = args.template ?? RULES.find(([re]) => re.test(goal.title))?.[1] ?? 'feature';
        batch = expandTemplate(
          catalog,
          chosen,
          { title: goal.title },
          args.parent ? { parent: args.parent } : {},
        );
        head = {
          mode: 'template' as const,
          mode_reason: `Planned from the "${chosen}" template${args.template ? '' : ' (chosen by keywords in the goal)'}${args.template ? '' : '; no LLM provider is configured, so no model wrote this plan'}.`,
          template: chosen,
        };
        steps = batch.slice(1).map((t) => ({
          title: t.title,
          ...(t.specialist ? { specialist: t.specialist } : {}),
          depends_on: (t.depends_on ?? []).map((d) => batch.find((b) => b.ref === d.task)?.title ?? d.task),
        }));
        lines = [
          `Plan for "${goal.title}" (${chosen}):`,
          ...steps.map(
            (s, i) =>
              `${i + 1}. ${s.title}${s.specialist ? ` [${s.specialist}]` : ''}${s.depends_on.length ? ` after: ${s.depends_on.join(', ')}` : ''}`,
          ),
        ];
      }
      const text = lines.filter(Boolean).join('\n');
      if (!store)
        return ok(
          { ...(head as { mode: 'model'; mode_reason: string }), steps },
          `${text}\nNothing was stored (dry run); call again with dry_run: false to create these tasks.\n${String(head.mode_reason)}`,
        );
      const added = await services.tasks.add(batch, actor, useModel ? 'plan' : 'template');
      const created = added.map((a) => a.task);
      return ok(
        { ...(head as { mode: 'model'; mode_reason: string }), steps, created },
        `${text}\nCreated:\n${created.map(taskLine).join('\n')}\n${String(head.mode_reason)}\nRun it with tasks_run {root: "${created[0]?.parent ?? created[0]?.id}"} (dry run first).`,
      );
    },
  });
}
