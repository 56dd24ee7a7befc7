/**
 * One agent run as the spawn tools offer it: optional task context, an output schema the answer is
 * checked against (not trusted), and a task that a passing answer completes through its gates.
 * Shared by spawn_agent, spawn_archetype_agent and spawn_parallel_agents.
 */
import { quoteUntrusted } from '../safety/quote.js';
import { AppError } from '../core/errors.js';
import { SchemaCache } from '../core/jsonSchema.js';
import { gateViolations } from '../tasks/completion.js';
import type { TaskService } from '../tasks/taskService.js';
import { requireArchetype } from './archetypes.js';
import type { Archetype } from './archetypes.js';
import { extractJson } from './jsonOutput.js';
import { selectModel } from './modelSelection.js';
import { eligible } from './workers.js';
import type { WorkerRegistry } from './workers.js';
import type { ModelChoice } from './modelSelection.js';
import type { ProviderName, Usage } from './providers/types.js';
import type { SpawnPipeline, TrailEntry } from './spawn.js';

const MAX_OUTPUT_CHARS = 30_000;

export interface AgentRunInput {
  prompt: string;
  provider?: ProviderName | undefined;
  model?: string | undefined;
  system?: string | undefined;
  maxTokens?: number | undefined;
  temperature?: number | undefined;
  outputSchema?: Record<string, unknown> | undefined;
  taskId?: string | undefined;
  timeoutMs?: number | undefined;
  fallback?: boolean | undefined;
  /** With model "auto": the most the call may cost (worst case), in USD. */
  maxCostUsd?: number | undefined;
  /** Role prompt and temperature; with a task, its specialist's archetype is used when none is given. */
  archetype?: string | undefined;
  operation: string;
}

export interface AgentRunResult {
  archetype?: string;
  model_choice?: ModelChoice;
  output: string;
  output_truncated: boolean;
  provider: string;
  model: string;
  usage: Usage;
  cost_usd: number;
  price_basis: string;
  latency_ms: number;
  trail: TrailEntry[];
  json?: { valid: boolean; violations: string[]; value?: unknown };
  task?: { id: string; completed: boolean; violations?: string[] };
}

export interface AgentRunDeps {
  spawn: SpawnPipeline;
  tasks: TaskService;
  schemas: SchemaCache;
  archetypes: ReadonlyMap<string, Archetype>;
  /** Interview profiles: model "auto" skips blocked models and limited ones unfit for the work. */
  workers?: WorkerRegistry | undefined;
}

export function createAgentRunDeps(
  spawn: SpawnPipeline,
  tasks: TaskService,
  archetypes: ReadonlyMap<string, Archetype>,
  workers?: WorkerRegistry,
): AgentRunDeps {
  return { spawn, tasks, schemas: new SchemaCache(), archetypes, ...(workers ? { workers } : {}) };
}

export async function runAgent(
  deps: AgentRunDeps,
  input: AgentRunInput,
  ctx: { actor: string; signal?: AbortSignal; bookkeeping?: Array<Promise<void>> },
): Promise<AgentRunResult> {
  let schema = input.outputSchema;
  let prompt = input.prompt;
  let taskId: string | undefined;
  let role = input.archetype ? requireArchetype(deps.archetypes, input.archetype) : undefined;
  if (input.taskId) {
    const { task } = await deps.tasks.get(input.taskId);
    taskId = task.id;
    schema ??= task.output_schema;
    if (!role && task.specialist) role = deps.archetypes.get(task.specialist);
    // Title and description may come from mail, plans or other agents: they reach the model as data.
    const fields = `Title: ${task.title}${task.description ? `\n\n${task.description}` : ''}`;
    prompt = `Task ${task.id}:\n${quoteUntrusted(fields, { label: 'task', maxChars: 6000 })}\n\n${input.prompt}`;
  }
  if (schema) {
    deps.schemas.validator(schema); // a bad schema is refused before any money is spent
    prompt += `\n\nAnswer with JSON only, matching this JSON Schema:\n${JSON.stringify(schema)}`;
  }
  let choice: ModelChoice | undefined;
  if (input.model === 'auto') {
    const available = await Promise.all(
      deps.spawn.targetsAvailable
        .filter((t) => !input.provider || t.name === input.provider)
        .map(async (t) => ({ ...t, served: await deps.spawn.servedModels(t.name, ctx.signal) })),
    );
    const profiles = deps.workers ? await deps.workers.snapshot() : {};
    const kind = { archetype: role?.name, structuredOutput: schema !== undefined };
    choice = selectModel(available, deps.spawn.pricing.models(), deps.spawn.pricing, {
      eligible: (provider, model) => eligible(profiles, provider, model, kind),
      archetype: role?.name,
      promptChars: prompt.length + (input.system?.length ?? 0) + (role?.system_prompt.length ?? 0),
      maxTokens: input.maxTokens ?? role?.max_tokens,
      structuredOutput: schema !== undefined,
      maxCostUsd: input.maxCostUsd,
      now: deps.spawn.now(),
    });
  }
  const provider = choice?.provider ?? input.provider;
  const model = choice?.model ?? input.model;
  const outcome = await deps.spawn.run({
    prompt,
    operation: input.operation,
    ...(provider ? { provider } : {}),
    ...(model ? { model } : {}),
    ...(input.system || role
      ? { system: [role?.system_prompt, input.system].filter(Boolean).join('\n\n') }
      : {}),
    ...((input.maxTokens ?? role?.max_tokens) !== undefined
      ? { maxTokens: input.maxTokens ?? role?.max_tokens }
      : {}),
    ...((input.temperature ?? role?.temperature) !== undefined
      ? { temperature: input.temperature ?? role?.temperature }
      : {}),
    ...(schema ? { jsonSchema: schema } : {}),
    ...(input.timeoutMs ? { timeoutMs: input.timeoutMs } : {}),
    ...(input.fallback !== undefined ? { fallback: input.fallback } : {}),
    ...(ctx.signal ? { signal: ctx.signal } : {}),
    ...(ctx.bookkeeping ? { bookkeeping: ctx.bookkeeping } : {}),
  });
  // Provider failures are data inside the spawn pipeline; past this point they are AppErrors.
  if (!outcome.ok) throw outcome.error;
  let json: AgentRunResult['json'];
  if (schema) {
    const extracted = extractJson(outcome.output);
    const violations = extracted.ok ? deps.schemas.violations(schema, extracted.value) : [extracted.reason];
    json = {
      valid: violations.length === 0,
      violations,
      ...(extracted.ok ? { value: extracted.value } : {}),
    };
  }
  let task: AgentRunResult['task'];
  if (taskId) {
    if (json && !json.valid) {
      task = { id: taskId, completed: false, violations: json.violations };
    } else {
      try {
        await deps.tasks.complete(
          taskId,
          {
            ...(json?.value !== undefined ? { result: json.value } : {}),
            summary: outcome.output.slice(0, 1000),
            detailed_work: outcome.output,
            artifact_name: 'agent_output.md',
            note: `completed by ${input.operation} via ${outcome.provider}/${outcome.model}`,
          },
          ctx.actor,
          ctx.signal,
        );
        task = { id: taskId, completed: true };
      } catch (error) {
        if (error instanceof AppError && error.code === 'GATE_FAILED')
          task = { id: taskId, completed: false, violations: gateViolations(error) };
        else if (error instanceof AppError)
          task = { id: taskId, completed: false, violations: [error.describe()] };
        else throw error;
      }
    }
  }
  const truncated = outcome.output.length > MAX_OUTPUT_CHARS;
  return {
    ...(role ? { archetype: role.name } : {}),
    ...(choice ? { model_choice: choice } : {}),
    output: truncated ? outcome.output.slice(0, MAX_OUTPUT_CHARS) : outcome.output,
    output_truncated: truncated,
    provider: outcome.provider,
    model: outcome.model,
    usage: outcome.usage,
    cost_usd: Number(outcome.cost_usd.toFixed(6)),
    price_basis: outcome.price_basis,
    latency_ms: outcome.latency_ms,
    trail: outcome.trail,
    ...(json ? { json } : {}),
    ...(task ? { task } : {}),
  };
}

/** The model-facing text of a run: header with provider, tokens, cost; the answer; checks. */
export function describeRun(r: AgentRunResult): string {
  const fallbackNote =
    r.trail.length > 1
      ? ` after ${r.trail
          .slice(0, -1)
          .map((t) => `${t.provider} ${t.outcome}`)
          .join(', ')}`
      : '';
  const header = `[${r.provider}/${r.model}${fallbackNote}; ${r.usage.input_tokens}+${r.usage.output_tokens} tokens; $${r.cost_usd}; ${r.latency_ms} ms]${r.model_choice ? `\n[model auto: ${r.model_choice.reason}]` : ''}`;
  const notes = [
    r.json
      ? r.json.valid
        ? 'JSON matches the schema.'
        : `JSON check failed: ${r.json.violations.join('; ')}`
      : '',
    r.task
      ? r.task.completed
        ? `Task ${r.task.id} completed.`
        : `Task ${r.task.id} stays open: ${r.task.violations?.join('; ')}`
      : '',
    r.output_truncated ? `[output truncated at ${MAX_OUTPUT_CHARS} characters]` : '',
  ].filter(Boolean);
  return [header, r.output, ...notes].join('\n');
}
