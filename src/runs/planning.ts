/**
 * Planning with a model: the leader decomposes a goal (or a goal document) into a task graph, or
 * splits one task into subtasks. The answer is data from a model: it is checked against a JSON
 * Schema, then for unique refs, known dependencies, no cycle, known workers, output schemas that
 * compile and command gates the policy allows. An invalid plan is sent back once with what was
 * wrong; a second invalid plan is refused. Nothing is stored here: the caller adds the batch.
 */
import type { ProviderName } from '../agents/providers/types.js';
import { AppError } from '../core/errors.js';
import { quoteUntrusted } from '../safety/quote.js';
import type { NewTask } from '../tasks/batch.js';
import type { SchemaCache } from '../core/jsonSchema.js';
import { defaultGraders, gradedRun } from '../spawning/gradedRun.js';
import type { GradedRunDeps } from '../spawning/gradedRun.js';

export interface PlannedStep {
  ref: string;
  title: string;
  description?: string | undefined;
  acceptance_criteria: string[];
  depends_on: Array<{ ref: string; kind: 'completion' | 'data' }>;
  complexity: number;
  worker?: string | undefined;
  critical: boolean;
  risks: string[];
  output_schema?: Record<string, unknown> | undefined;
  command_gates: Array<{ command: string; args: string[] }>;
}

export interface Plan {
  summary: string;
  risks: string[];
  steps: PlannedStep[];
}

export interface PlanOutcome {
  plan: Plan;
  leader: { provider: string; model: string };
  attempts: number;
  trial_ids: string[];
  cost_usd: number;
  /** What was wrong with a refused first answer. */
  rejected?: string[];
}

const REF = '^[a-z][a-z0-9_-]{0,39}$';

/** What the leader must answer (checked, not trusted). */
const PLAN_SCHEMA: Record<string, unknown> = {
  type: 'object',
  required: ['tasks'],
  additionalProperties: false,
  properties: {
    summary: { type: 'string', maxLength: 2000 },
    risks: { type: 'array', maxItems: 20, items: { type: 'string', maxLength: 500 } },
    tasks: {
      type: 'array',
      minItems: 1,
      maxItems: 40,
      items: {
        type: 'object',
        required: ['ref', 'title', 'complexity'],
        additionalProperties: false,
        properties: {
          ref: { type: 'string', pattern: REF },
          title: { type: 'string', minLength: 1, maxLength: 200 },
          description: { type: 'string', maxLength: 4000 },
          acceptance_criteria: { type: 'array', maxItems: 10, items: { type: 'string', maxLength: 500 } },
          depends_on: {
            type: 'array',
            maxItems: 20,
            items: {
              type: 'object',
              required: ['ref'],
              additionalProperties: false,
              properties: { ref: { type: 'string' }, kind: { enum: ['completion', 'data'] } },
            },
          },
          complexity: { type: 'integer', minimum: 1, maximum: 10 },
          worker: { type: 'string', maxLength: 60 },
          critical: { type: 'boolean' },
          risks: { type: 'array', maxItems: 10, items: { type: 'string', maxLength: 500 } },
          output_schema: { type: 'object' },
          command_gates: {
            type: 'array',
            maxItems: 5,
            items: {
              type: 'object',
              required: ['command', 'args'],
              additionalProperties: false,
              properties: {
                command: { type: 'string', maxLength: 200 },
                args: { type: 'array', maxItems: 30, items: { type: 'string', maxLength: 500 } },
              },
            },
          },
        },
      },
    },
  },
};

export interface PlanningDeps {
  graded: GradedRunDeps;
  schemas: SchemaCache;
  /** Known worker kinds (archetype names). */
  archetypes: readonly string[];
  /** Vets one command gate with the command policy; throws AppError when it is not allowed. */
  vetGate: (gate: { command: string; args: string[] }) => Promise<void>;
}

export interface PlanRequest {
  /** The goal, or the text of a goal document (quoted to the model as data). */
  goal: string;
  /** What the document is ("goal", "PRD docs/prd.md", "task t_ab12cd34"). */
  source: string;
  /** Extra context for splitting a task: the parent's title and description. */
  split?: boolean;
  maxSteps: number;
  provider?: ProviderName | undefined;
  model?: string | undefined;
  maxTokens?: number | undefined;
}

function instructions(req: PlanRequest, archetypes: readonly string[]): string {
  return [
    req.split
      ? `Split the task quoted below into at most ${req.maxSteps} smaller subtasks that together complete it.`
      : `Decompose the goal quoted below into a plan of at most ${req.maxSteps} tasks.`,
    'For each task give: ref (lowercase identifier, unique), title, description, acceptance_criteria (how the result will be checked), depends_on (refs of tasks whose completion it needs; kind "data" when it needs their result), complexity (integer 1-10), worker (one of: ' +
      archetypes.join(', ') +
      '), critical (true when a mistake there is costly), risks.',
    'Where a result must have a fixed structure, give output_schema (a JSON Schema). Where a command proves the task done (tests, a build), give command_gates [{"command", "args"}].',
    'Also give the plan summary and its overall risks. The graph must have no cycle.',
    quoteUntrusted(req.goal, { label: req.source, maxChars: 40_000 }),
  ].join('\n\n');
}

/** Everything wrong with a parsed plan (empty when it is valid). */
async function planProblems(
  value: unknown,
  deps: Pick<PlanningDeps, 'schemas' | 'archetypes' | 'vetGate'>,
  maxSteps: number,
): Promise<string[]> {
  const shape = deps.schemas.violations(PLAN_SCHEMA, value);
  if (shape.length > 0) return shape.slice(0, 10);
  const tasks = (value as { tasks: Array<Record<string, unknown>> }).tasks;
  const problems: string[] = [];
  if (tasks.length > maxSteps) problems.push(`${tasks.length} tasks; at most ${maxSteps} were asked for`);
  const refs = new Set<string>();
  for (const t of tasks) {
    const ref = t.ref as string;
    if (refs.has(ref)) problems.push(`ref "${ref}" appears twice`);
    refs.add(ref);
  }
  const edges = new Map<string, string[]>();
  for (const t of tasks) {
    const ref = t.ref as string;
    const deps_ = ((t.depends_on ?? []) as Array<{ ref: string }>).map((d) => d.ref);
    for (const d of deps_) {
      if (d === ref) problems.push(`${ref} depends on itself`);
      else if (!refs.has(d)) problems.push(`${ref} depends on unknown ref "${d}"`);
    }
    edges.set(ref, deps_);
    if (t.worker !== undefined && !deps.archetypes.includes(t.worker as string))
      problems.push(
        `${ref}: unknown worker "${t.worker as string}" (use one of ${deps.archetypes.join(', ')})`,
      );
    if (t.output_schema !== undefined) {
      try {
        deps.schemas.validator(t.output_schema as Record<string, unknown>);
      } catch (error) {
        problems.push(`${ref}: output_schema does not compile: ${(error as Error).message}`);
      }
    }
    for (const g of (t.command_gates ?? []) as Array<{ command: string; args: string[] }>) {
      try {
        await deps.vetGate(g);
      } catch (error) {
        problems.push(`${ref}: command gate "${g.command}" is not allowed: ${(error as Error).message}`);
      }
    }
  }
  const cycle = findPlanCycle(edges);
  if (cycle) problems.push(`the dependencies form a cycle: ${cycle.join(' → ')}`);
  return problems;
}

/** A cycle among refs (depth-first), or undefined. */
function findPlanCycle(edges: ReadonlyMap<string, readonly string[]>): string[] | undefined {
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const visit = (n: string): string[] | undefined => {
    state.set(n, 1);
    stack.push(n);
    for (const m of edges.get(n) ?? []) {
      if (!edges.has(m)) continue;
      if (state.get(m) === 1) return [...stack.slice(stack.indexOf(m)), m];
      if (!state.has(m)) {
        const c = visit(m);
        if (c) return c;
      }
    }
    stack.pop();
    state.set(n, 2);
    return undefined;
  };
  for (const n of edges.keys()) {
    if (state.has(n)) continue;
    const c = visit(n);
    if (c) return c;
  }
  return undefined;
}

function toPlan(value: unknown): Plan {
  const v = value as { summary?: string; risks?: string[]; tasks: Array<Record<string, unknown>> };
  return {
    summary: v.summary ?? '',
    risks: v.risks ?? [],
    steps: v.tasks.map((t) => ({
      ref: t.ref as string,
      title: t.title as string,
      description: t.description as string | undefined,
      acceptance_criteria: (t.acceptance_criteria ?? []) as string[],
      depends_on: ((t.depends_on ?? []) as Array<{ ref: string; kind?: 'completion' | 'data' }>).map((d) => ({
        ref: d.ref,
        kind: d.kind ?? 'completion',
      })),
      complexity: t.complexity as number,
      worker: t.worker as string | undefined,
      critical: t.critical === true,
      risks: (t.risks ?? []) as string[],
      output_schema: t.output_schema as Record<string, unknown> | undefined,
      command_gates: (t.command_gates ?? []) as Array<{ command: string; args: string[] }>,
    })),
  };
}

/**
 * Asks the leader for a plan; an invalid answer is returned once with its problems.
 * @throws AppError PLAN_INVALID after two invalid answers; provider errors as gradedRun throws them.
 */
export async function planWithModel(
  deps: PlanningDeps,
  req: PlanRequest,
  ctx: { actor: string; signal?: AbortSignal },
): Promise<PlanOutcome> {
  const base = instructions(req, deps.archetypes);
  const trialIds: string[] = [];
  let cost = 0;
  let rejected: string[] | undefined;
  for (let attempt = 1; attempt <= 2; attempt++) {
    const prompt = rejected
      ? `${base}\n\nYour previous plan was refused:\n- ${rejected.join('\n- ')}\nAnswer with a corrected plan.`
      : base;
    const r = await gradedRun(
      deps.graded,
      {
        prompt,
        provider: req.provider,
        model: req.model,
        system:
          'You are the leader of a team of AI workers. You plan; others do the work. Answer with JSON only.',
        outputSchema: PLAN_SCHEMA,
        temperature: 0.2,
        maxTokens: req.maxTokens ?? 4000,
        operation: req.split ? 'tasks_expand' : 'tasks_plan',
        graders: defaultGraders(true, 'off'),
      },
      ctx,
    );
    trialIds.push(r.trial_id);
    cost += r.cost_usd;
    const problems = r.json?.value === undefined ? (r.json?.violations ?? ['no JSON in the answer']) : [];
    if (problems.length === 0) problems.push(...(await planProblems(r.json!.value, deps, req.maxSteps)));
    if (problems.length === 0)
      return {
        plan: toPlan(r.json!.value),
        leader: { provider: r.provider, model: r.model },
        attempts: attempt,
        trial_ids: trialIds,
        cost_usd: Number(cost.toFixed(6)),
        ...(rejected ? { rejected } : {}),
      };
    if (attempt === 2)
      throw new AppError('PLAN_INVALID', `The leader's plan was refused twice: ${problems.join('; ')}`, {
        hint: 'Nothing was stored. Rephrase the goal, give a smaller one, or pick another model (provider/model)',
        details: { problems, first_problems: rejected, trial_ids: trialIds },
      });
    rejected = problems;
  }
  throw new AppError('INTERNAL', 'unreachable');
}

/** The description a planned step's task gets: its text, acceptance criteria and risks. */
function describeStep(s: PlannedStep): string | undefined {
  const parts = [
    s.description ?? '',
    s.acceptance_criteria.length
      ? `Acceptance criteria:\n${s.acceptance_criteria.map((c) => `- ${c}`).join('\n')}`
      : '',
    s.risks.length ? `Risks:\n${s.risks.map((c) => `- ${c}`).join('\n')}` : '',
  ].filter(Boolean);
  return parts.length ? parts.join('\n\n') : undefined;
}

/** The tasks_add batch of a plan: under `parent` (a ref of the batch or an existing id). */
export function planBatch(plan: Plan, parent: string): NewTask[] {
  return plan.steps.map((s) => ({
    ref: s.ref,
    title: s.title,
    parent,
    ...(describeStep(s) ? { description: describeStep(s) } : {}),
    priority: s.critical ? 'critical' : 'medium',
    complexity: s.complexity,
    ...(s.worker ? { specialist: s.worker } : {}),
    ...(s.output_schema ? { output_schema: s.output_schema } : {}),
    ...(s.command_gates.length ? { command_gates: s.command_gates } : {}),
    depends_on: s.depends_on.map((d) => ({ task: d.ref, kind: d.kind })),
    tags: ['planned'],
  }));
}
