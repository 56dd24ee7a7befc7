/**
 * Work orders: every operation the task tools offer, validated against the latest state inside a
 * store transaction (so concurrent servers cannot break an invariant), recorded as events with
 * their actor. Expected failures throw AppError from inside `decide`, which appends nothing.
 */
import type { Clock } from '../core/clock.js';
import { isoTime } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { Logger } from '../core/logger.js';
import { paginate } from '../core/pagination.js';
import type { Page, PageRequest } from '../core/pagination.js';
import type { EventStore } from '../storage/eventStore.js';
import type { Storage } from '../storage/storage.js';
import { writeArtifact } from './artifacts.js';
import { ListIndex } from './listIndex.js';
import type { ListFilter } from './listIndex.js';
import { SchemaCache } from './gates.js';
import type { GateExecutor, GateRun } from './gates.js';
import {
  blockers,
  childProgress,
  criticalPathLength,
  findCycle,
  isReadyToStart,
  wouldNestInItself,
} from './graph.js';
import type { Blocker } from './graph.js';
import { applyTaskEvent, CLOSED, emptyTaskState, PRIORITY_RANK, TRANSITIONS } from './model.js';
import type {
  Artifact,
  CommandGate,
  Dependency,
  DependencyKind,
  HistoryEntry,
  Priority,
  Source,
  Status,
  Task,
  TaskEvent,
  TaskFields,
  TaskState,
} from './model.js';

export interface NewTask {
  /** A name other tasks of the same batch use for parent/depends_on. */
  ref?: string;
  title: string;
  description?: string;
  priority?: Priority;
  status?: 'draft' | 'ready';
  /** Id, id prefix, or ref of the batch. */
  parent?: string;
  depends_on?: Array<{ task: string; kind?: DependencyKind }>;
  tags?: string[];
  due?: string;
  estimate_hours?: number;
  specialist?: string;
  source?: Source;
  output_schema?: Record<string, unknown>;
  command_gates?: Array<Omit<CommandGate, 'timeout_s'> & { timeout_s?: number }>;
  external_id?: string;
  /** Notes to start with. */
  notes?: string[];
}

export interface TaskSummary {
  id: string;
  title: string;
  status: Status;
  priority: Priority;
  due?: string;
  tags: string[];
  parent?: string;
  specialist?: string;
  children?: { total: number; completed: number };
  ready_to_start: boolean;
  blocked_by?: string[];
}

export interface ListRequest extends Omit<ListFilter, 'parent'> {
  /** A task id/prefix for its children, or "root" for top-level tasks. */
  parent?: string | undefined;
}

export interface CompleteInput {
  result?: unknown;
  summary?: string;
  detailed_work?: string;
  artifact_name?: string;
  approved?: boolean;
  note?: string;
}

export interface ParentProgress {
  id: string;
  title: string;
  total: number;
  completed: number;
  open: number;
}

export interface TaskServiceOptions {
  storage: Storage;
  logger: Logger;
  clock: Clock;
  projectDir: string;
  /** Vets and runs command gates (the safety layer's command runner). */
  gates: GateExecutor;
  /** Total bytes all artifacts may take. Default: no limit. */
  artifactQuotaBytes?: number;
}

const DEFAULT_GATE_TIMEOUT_S = 300;
/** Statuses the transition table lets complete (a blocked task must be unblocked first). */
const COMPLETABLE: readonly Status[] = (Object.keys(TRANSITIONS) as Status[]).filter((s) =>
  TRANSITIONS[s].includes('completed'),
);

/**
 * The error tasks_complete throws when a gate fails: code GATE_FAILED, every violation in
 * `details.violations` (callers branch on the code, never on the class or the message).
 */
export function gateFailure(taskId: string, violations: string[], gateRuns: GateRun[]): AppError {
  return new AppError(
    'GATE_FAILED',
    `Task ${taskId} was not completed: ${violations.length} gate violation(s):\n- ${violations.join('\n- ')}`,
    {
      hint: 'Fix every violation, then call tasks_complete again; the task stays open',
      details: { violations, gates: gateRuns.map((g) => ({ gate: g.gate, status: g.status })) },
    },
  );
}

/** The violations a GATE_FAILED error carries (empty for any other error). */
export function gateViolations(error: AppError): string[] {
  return error.code === 'GATE_FAILED' ? ((error.details?.violations as string[] | undefined) ?? []) : [];
}

export function summarizeTask(state: TaskState, task: Task): TaskSummary {
  const out: TaskSummary = {
    id: task.id,
    title: task.title,
    status: task.status,
    priority: task.priority,
    tags: task.tags,
    ready_to_start: isReadyToStart(state, task),
  };
  if (task.due) out.due = task.due;
  if (task.parent) out.parent = task.parent;
  if (task.specialist) out.specialist = task.specialist;
  const kids = state.children.get(task.id);
  if (kids && kids.length > 0) {
    const p = childProgress(state, task.id);
    out.children = { total: p.total, completed: p.completed };
  }
  if (!CLOSED.has(task.status) && task.depends_on.length > 0) {
    const b = blockers(state, task);
    if (b.length > 0) out.blocked_by = b.map((x) => x.task);
  }
  return out;
}

/** Resolves an exact id or a unique prefix (with or without `t_`). */
export function resolveId(state: TaskState, ref: string): string {
  const wanted = ref.trim();
  if (state.tasks.has(wanted)) return wanted;
  const prefix = wanted.startsWith('t_') ? wanted : `t_${wanted}`;
  if (prefix.length >= 5) {
    const matches: string[] = [];
    for (const id of state.tasks.keys()) if (id.startsWith(prefix)) matches.push(id);
    if (matches.length === 1) return matches[0]!;
    if (matches.length > 1) {
      throw new AppError(
        'CONFLICT',
        `Task id prefix "${wanted}" matches ${matches.length} tasks: ${matches.slice(0, 5).join(', ')}`,
        {
          hint: 'Give more characters of the id',
        },
      );
    }
  }
  throw new AppError('NOT_FOUND', `Task "${wanted.slice(0, 60)}" not found`, {
    hint: 'tasks_list or tasks_query shows task ids (a unique prefix of 3+ characters after t_ also works)',
  });
}

function compareDue(a: Task, b: Task): number {
  if (a.due === b.due) return 0;
  if (!a.due) return 1;
  if (!b.due) return -1;
  return a.due < b.due ? -1 : 1;
}

export class TaskService {
  private readonly store: EventStore<TaskState, TaskEvent>;
  private readonly schemas = new SchemaCache();
  private readonly lists = new ListIndex();
  private readonly options: TaskServiceOptions;

  constructor(options: TaskServiceOptions) {
    this.options = options;
    this.store = options.storage.events<TaskState, TaskEvent>('tasks', {
      initial: emptyTaskState,
      apply: applyTaskEvent,
    });
  }

  private now(): string {
    return isoTime(this.options.clock);
  }

  /** Reads the caught-up state. */
  read<R>(select: (state: Readonly<TaskState>, version: number) => R): Promise<R> {
    return this.store.read(select);
  }

  private require(state: TaskState, ref: string): Task {
    return state.tasks.get(resolveId(state, ref))!;
  }

  private async checkGates(gates: NewTask['command_gates']): Promise<CommandGate[]> {
    const out: CommandGate[] = [];
    for (const g of gates ?? []) {
      const gate: CommandGate = {
        command: g.command,
        args: g.args,
        timeout_s: g.timeout_s ?? DEFAULT_GATE_TIMEOUT_S,
      };
      await this.options.gates.vet(gate);
      out.push(gate);
    }
    return out;
  }

  /** Adds one or more tasks atomically: all of them, or none with the reason. */
  async add(
    items: NewTask[],
    actor: string,
    source: Source = 'manual',
  ): Promise<Array<{ ref?: string; task: TaskSummary }>> {
    const prepared = await this.prepare(items);
    const added = await this.store.transact((state) => {
      const tasks = this.buildBatch(state, prepared, actor, source);
      // tasks[i] was built from prepared[i].
      const result = tasks.map((t, i) => ({ id: t.id, ref: prepared[i]!.item.ref }));
      return {
        event: { type: 'added', at: tasks[0]?.created_at ?? this.now(), actor, tasks },
        result,
      };
    });
    return this.read((state) =>
      added.map(({ id, ref }) => ({
        ...(ref !== undefined ? { ref } : {}),
        task: summarizeTask(state, state.tasks.get(id)!),
      })),
    );
  }

  /**
   * For each item, whether importing it would skip it as a duplicate (its external id already
   * imported, or repeated earlier in `items`), without importing anything.
   */
  async duplicatesOf(items: readonly NewTask[]): Promise<boolean[]> {
    return this.read((state) => {
      const seen = new Set<string>();
      return items.map(({ external_id: key }) => {
        if (key === undefined) return false;
        const dup = state.external.has(key) || seen.has(key);
        seen.add(key);
        return dup;
      });
    });
  }

  /**
   * Adds imported tasks, skipping those whose external_id is already stored (checked inside the
   * transaction, so two sessions importing the same mailbox do not duplicate anything).
   */
  async import(
    items: NewTask[],
    actor: string,
    source: Source,
  ): Promise<{ added: TaskSummary[]; duplicates: string[] }> {
    const prepared = await this.prepare(items);
    const outcome = await this.store.transact((state) => {
      const seen = new Set<string>();
      const fresh = prepared.filter(({ item }) => {
        const key = item.external_id;
        if (key === undefined) return true;
        if (state.external.has(key) || seen.has(key)) return false;
        seen.add(key);
        return true;
      });
      const duplicates = prepared.filter((p) => !fresh.includes(p)).map((p) => p.item.external_id!);
      if (fresh.length === 0) return { result: { ids: [] as string[], duplicates } };
      const tasks = this.buildBatch(state, fresh, actor, source);
      return {
        event: { type: 'added', at: tasks[0]!.created_at, actor, tasks },
        result: { ids: tasks.map((t) => t.id), duplicates },
      };
    });
    return this.read((state) => ({
      added: outcome.ids.map((id) => summarizeTask(state, state.tasks.get(id)!)),
      duplicates: outcome.duplicates,
    }));
  }

  /** Checks that need no state: fail before taking the lock. */
  private async prepare(items: NewTask[]): Promise<Array<{ item: NewTask; gates: CommandGate[] }>> {
    const out: Array<{ item: NewTask; gates: CommandGate[] }> = [];
    for (const item of items) {
      if (item.output_schema) this.schemas.validator(item.output_schema);
      out.push({ item, gates: await this.checkGates(item.command_gates) });
    }
    return out;
  }

  /** Builds the tasks of a batch against `state`. @throws AppError for bad refs, ids or cycles. */
  private buildBatch(
    state: TaskState,
    prepared: Array<{ item: NewTask; gates: CommandGate[] }>,
    actor: string,
    source: Source,
  ): Task[] {
    const at = this.now();
    const byRef = new Map<string, string>();
    for (const { item } of prepared) {
      if (item.ref === undefined) continue;
      if (byRef.has(item.ref)) {
        throw new AppError('INVALID_INPUT', `ref "${item.ref}" is used twice in this batch`, {
          hint: 'Give each task a unique ref',
        });
      }
      byRef.set(item.ref, newId('t', 8));
    }
    const resolve = (ref: string, field: string): string => {
      const local = byRef.get(ref);
      if (local) return local;
      try {
        return resolveId(state, ref);
      } catch (error) {
        if (error instanceof AppError && error.code === 'NOT_FOUND') {
          throw new AppError(
            'NOT_FOUND',
            `${field} "${ref}" is neither a ref of this batch nor an existing task`,
            {
              hint: 'Use a ref defined in this batch or an id from tasks_list',
            },
          );
        }
        throw error;
      }
    };
    const tasks: Task[] = [];
    const extraEdges = new Map<string, string[]>();
    for (const { item, gates } of prepared) {
      const id = item.ref !== undefined ? byRef.get(item.ref)! : newId('t', 8);
      const depends: Dependency[] = [];
      for (const d of item.depends_on ?? []) {
        const target = resolve(d.task, 'depends_on task');
        if (depends.some((x) => x.task === target)) continue;
        depends.push({ task: target, kind: d.kind ?? 'completion' });
      }
      extraEdges.set(
        id,
        depends.map((d) => d.task),
      );
      const task: Task = {
        id,
        title: item.title,
        priority: item.priority ?? 'medium',
        status: item.status ?? 'ready',
        tags: [...new Set(item.tags ?? [])],
        source: item.source ?? source,
        notes: (item.notes ?? []).map((text) => ({ at, actor, text })),
        depends_on: depends,
        command_gates: gates,
        artifacts: [],
        created_by: actor,
        created_at: at,
        updated_at: at,
      };
      if (item.description) task.description = item.description;
      if (item.parent) task.parent = resolve(item.parent, 'parent');
      if (item.due) task.due = item.due;
      if (item.estimate_hours !== undefined) task.estimate_hours = item.estimate_hours;
      if (item.specialist) task.specialist = item.specialist;
      if (item.output_schema) task.output_schema = item.output_schema;
      if (item.external_id) task.external_id = item.external_id;
      tasks.push(task);
    }
    // Cycles may run through tasks of this batch only, or through stored ones.
    for (const task of tasks) {
      for (const dep of task.depends_on) {
        const others = new Map(extraEdges);
        others.set(
          task.id,
          (others.get(task.id) ?? []).filter((x) => x !== dep.task),
        );
        const cycle = findCycle(state, task.id, dep.task, others);
        if (cycle) {
          throw new AppError('CONFLICT', `Dependencies form a cycle: ${cycle.join(' → ')}`, {
            hint: 'Remove one of these dependencies; nothing was added',
          });
        }
      }
      if (task.parent && task.parent === task.id) {
        throw new AppError('INVALID_INPUT', `Task "${task.title}" cannot be its own parent`);
      }
    }
    return tasks;
  }

  async list(request: ListRequest): Promise<Page<TaskSummary>> {
    return this.read((state, version) => {
      const parent =
        request.parent === 'root' ? null : request.parent ? resolveId(state, request.parent) : undefined;
      const page = this.lists.page(state, version, { ...request, parent });
      return {
        items: page.ids.map((id) => summarizeTask(state, state.tasks.get(id)!)),
        total: page.total,
        ...(page.next_cursor ? { next_cursor: page.next_cursor } : {}),
      };
    });
  }

  async get(ref: string): Promise<{ task: Task; summary: TaskSummary; blockers: Blocker[] }> {
    return this.read((state) => {
      const task = this.require(state, ref);
      return {
        task: structuredClone(task),
        summary: summarizeTask(state, task),
        blockers: blockers(state, task),
      };
    });
  }

  async update(
    ref: string,
    changes: Partial<TaskFields> & { parent?: string | null },
    note: string | undefined,
    actor: string,
  ): Promise<TaskSummary> {
    if (changes.output_schema) this.schemas.validator(changes.output_schema);
    const gates = changes.command_gates ? await this.checkGates(changes.command_gates) : undefined;
    const id = await this.store.transact((state) => {
      const task = this.require(state, ref);
      if (task.status === 'archived')
        throw new AppError('CONFLICT', `${task.id} is archived; archived tasks are read-only`, {
          hint: 'Create a new task (tasks_add), or copy what you need from tasks_get',
        });
      const normalized: Partial<TaskFields> & { parent?: string | null } = { ...changes };
      if (gates) normalized.command_gates = gates;
      if (changes.tags) normalized.tags = [...new Set(changes.tags)];
      if (changes.parent !== undefined && changes.parent !== null) {
        const parent = resolveId(state, changes.parent);
        if (wouldNestInItself(state, task.id, parent)) {
          throw new AppError(
            'CONFLICT',
            `${task.id} cannot be moved under ${parent}: ${parent} is ${task.id} or one of its subtasks`,
          );
        }
        normalized.parent = parent;
      }
      if (Object.keys(normalized).length === 0 && !note) {
        throw new AppError('INVALID_INPUT', 'Nothing to update', {
          hint: 'Give at least one field to change, or a note',
        });
      }
      const event: TaskEvent = {
        type: 'updated',
        id: task.id,
        changes: normalized,
        at: this.now(),
        actor,
        ...(note ? { note } : {}),
      };
      return { event, result: task.id };
    });
    return this.read((state) => summarizeTask(state, state.tasks.get(id)!));
  }

  /** Moves a task along the lifecycle. `to: active` requires satisfied dependencies. */
  async transition(ref: string, to: Status, reason: string | undefined, actor: string): Promise<TaskSummary> {
    const id = await this.store.transact((state) => {
      const task = this.require(state, ref);
      if (task.status === to) {
        return { result: task.id };
      }
      if (to === 'completed') {
        throw new AppError(
          'INVALID_INPUT',
          'Tasks complete only through tasks_complete, where their gates run',
          {
            hint: `Call tasks_complete with task_id ${task.id}`,
          },
        );
      }
      const allowed = TRANSITIONS[task.status];
      if (!allowed.includes(to)) {
        throw new AppError('CONFLICT', `${task.id} cannot go from ${task.status} to ${to}`, {
          hint: `From ${task.status} it can go to: ${allowed.filter((s) => s !== 'completed').join(', ') || 'nothing (final)'}`,
        });
      }
      if (to === 'active') this.requireUnblocked(state, task);
      const event: TaskEvent = {
        type: 'transitioned',
        id: task.id,
        from: task.status,
        to,
        at: this.now(),
        actor,
        ...(reason ? { reason } : {}),
      };
      return { event, result: task.id };
    });
    return this.read((state) => summarizeTask(state, state.tasks.get(id)!));
  }

  private requireUnblocked(state: TaskState, task: Task): void {
    const b = blockers(state, task);
    if (b.length > 0) {
      throw new AppError(
        'CONFLICT',
        `${task.id} cannot start: ${b.map((x) => `${x.task} (${x.kind}: ${x.reason})`).join('; ')}`,
        {
          hint: 'Finish those tasks first, or waive a dependency with tasks_depend {action: "waive", reason}',
          details: { blockers: b },
        },
      );
    }
  }

  async depend(
    ref: string,
    action: 'add' | 'remove' | 'waive',
    onRef: string,
    kind: DependencyKind | undefined,
    reason: string | undefined,
    actor: string,
  ): Promise<TaskSummary> {
    const id = await this.store.transact((state) => {
      const task = this.require(state, ref);
      const on = resolveId(state, onRef);
      const existing = task.depends_on.find((d) => d.task === on);
      const at = this.now();
      if (action === 'add') {
        if (existing) {
          throw new AppError('CONFLICT', `${task.id} already depends on ${on} (${existing.kind})`, {
            hint: 'Remove it first to change its kind',
          });
        }
        const cycle = findCycle(state, task.id, on);
        if (cycle) {
          throw new AppError('CONFLICT', `Adding this dependency would close a cycle: ${cycle.join(' → ')}`, {
            hint: 'Remove one of the dependencies on that path first',
          });
        }
        return {
          event: {
            type: 'dependency_added',
            id: task.id,
            dependency: { task: on, kind: kind ?? 'completion' },
            at,
            actor,
          },
          result: task.id,
        };
      }
      if (!existing) {
        throw new AppError('NOT_FOUND', `${task.id} does not depend on ${on}`, {
          hint: 'tasks_history or tasks_list show its dependencies',
        });
      }
      if (action === 'remove')
        return { event: { type: 'dependency_removed', id: task.id, on, at, actor }, result: task.id };
      if (!reason) {
        throw new AppError('INVALID_INPUT', 'Waiving a dependency needs a reason', {
          hint: 'Say why it is safe to start without it',
        });
      }
      return { event: { type: 'dependency_waived', id: task.id, on, reason, at, actor }, result: task.id };
    });
    return this.read((state) => summarizeTask(state, state.tasks.get(id)!));
  }

  /** What would stop `task` from completing now, besides its command gates. */
  private completionViolations(state: TaskState, task: Task, input: CompleteInput): string[] {
    const out: string[] = [];
    if (!COMPLETABLE.includes(task.status)) {
      out.push(
        `status is ${task.status}; only ${COMPLETABLE.join(', ')} tasks can complete${task.status === 'blocked' ? ' (move it to ready or active with tasks_transition first)' : ''}`,
      );
      return out;
    }
    for (const b of blockers(state, task))
      out.push(`dependency ${b.task} (${b.kind}) is not satisfied: ${b.reason}`);
    const open = (state.children.get(task.id) ?? []).filter((c) => {
      const t = state.tasks.get(c);
      return t !== undefined && !CLOSED.has(t.status);
    });
    if (open.length > 0) out.push(`${open.length} subtask(s) still open: ${open.slice(0, 10).join(', ')}`);
    if (task.output_schema) {
      if (input.result === undefined) out.push('result is required: this task has an output_schema');
      else out.push(...this.schemas.violations(task.output_schema, input.result));
    }
    return out;
  }

  /**
   * Records a human's waiver of a task's command gates (they cannot run while execution is off).
   * Only the human channel (the CLI in a terminal) calls this.
   * @throws AppError NOT_FOUND, INVALID_INPUT without a reason or gates.
   */
  async waiveGates(ref: string, reason: string, actor: string): Promise<TaskSummary> {
    if (!reason.trim())
      throw new AppError('INVALID_INPUT', 'A reason is required to waive gates', {
        hint: 'Say why they need not run',
      });
    const id = await this.store.transact((state) => {
      const task = this.require(state, ref);
      if (task.command_gates.length === 0)
        throw new AppError('INVALID_INPUT', `Task ${task.id} has no command gates`);
      return { event: { type: 'gates_waived', id: task.id, reason, at: this.now(), actor }, result: task.id };
    });
    return this.read((state) => summarizeTask(state, state.tasks.get(id)!));
  }

  /**
   * Completes a task if every gate passes: dependencies satisfied, subtasks closed, result valid
   * against the output schema, every command gate exits 0. Otherwise records the failed attempt
   * and throws AppError GATE_FAILED with every violation; the task stays open.
   */
  async complete(
    ref: string,
    input: CompleteInput,
    actor: string,
    signal?: AbortSignal,
  ): Promise<{ task: TaskSummary; gates: GateRun[]; artifacts: Artifact[]; parent?: ParentProgress }> {
    const { task, violations } = await this.read((state) => {
      const t = this.require(state, ref);
      return { task: structuredClone(t), violations: this.completionViolations(state, t, input) };
    });
    const gateRuns: GateRun[] = [];
    // Every command gate runs and is reported, whatever the other gates say.
    if (COMPLETABLE.includes(task.status)) {
      for (const gate of task.command_gates) {
        const run = await this.options.gates.run(gate, signal);
        gateRuns.push(run);
        if (run.status === 'not_run') {
          if (!task.gates_waived) violations.push(`command gate "${run.gate}" ${run.output_tail}`);
        } else if (!run.ok) {
          violations.push(
            `command gate "${run.gate}" failed (exit ${run.exit_code ?? 'none'}): ${run.output_tail || 'no output'}`,
          );
        }
      }
    }
    if (violations.length > 0) {
      await this.store.transact(() => ({
        event: { type: 'gate_failed', id: task.id, violations, at: this.now(), actor },
        result: undefined,
      }));
      throw gateFailure(task.id, violations, gateRuns);
    }
    const artifacts: Artifact[] = [];
    if (input.detailed_work !== undefined) {
      artifacts.push(
        await writeArtifact(
          this.options.storage.stateDir,
          task.id,
          input.artifact_name ?? 'detailed_work.md',
          input.detailed_work,
          this.options.artifactQuotaBytes,
        ),
      );
    }
    await this.store.transact((state) => {
      const current = state.tasks.get(task.id)!;
      // Another session may have changed it while the gates ran.
      const late = this.completionViolations(state, current, input);
      if (late.length > 0) throw gateFailure(task.id, late, gateRuns);
      const event: TaskEvent = {
        type: 'completed',
        id: task.id,
        from: current.status,
        at: this.now(),
        actor,
        artifacts,
        ...(input.result !== undefined ? { result: input.result } : {}),
        ...(input.summary !== undefined ? { summary: input.summary } : {}),
        ...(input.approved !== undefined ? { approved: input.approved } : {}),
        ...(input.note !== undefined ? { note: input.note } : {}),
      };
      return { event, result: undefined };
    });
    return this.read((state) => {
      const done = state.tasks.get(task.id)!;
      const out: { task: TaskSummary; gates: GateRun[]; artifacts: Artifact[]; parent?: ParentProgress } = {
        task: summarizeTask(state, done),
        gates: gateRuns,
        artifacts,
      };
      if (done.parent) {
        const p = childProgress(state, done.parent);
        const parent = state.tasks.get(done.parent);
        out.parent = {
          id: done.parent,
          title: parent?.title ?? '',
          total: p.total,
          completed: p.completed,
          open: p.open,
        };
      }
      return out;
    });
  }

  async history(ref: string, page: PageRequest): Promise<Page<HistoryEntry> & { task: TaskSummary }> {
    return this.read((state) => {
      const task = this.require(state, ref);
      const entries = [...(state.history.get(task.id) ?? [])].reverse();
      return { ...paginate(entries, page), task: summarizeTask(state, task) };
    });
  }

  async query(
    text: string,
    filter: {
      status?: Status[];
      priority?: Priority[];
      tag?: string;
      include_closed?: boolean;
    } & PageRequest,
  ): Promise<Page<TaskSummary & { score: number }>> {
    const words = text
      .toLowerCase()
      .split(/[^\p{L}\p{N}_-]+/u)
      .filter((w) => w.length > 0);
    return this.read((state) => {
      const hits: Array<{ task: Task; score: number }> = [];
      for (const id of state.order) {
        const t = state.tasks.get(id)!;
        if (
          filter.status?.length
            ? !filter.status.includes(t.status)
            : !filter.include_closed && CLOSED.has(t.status)
        )
          continue;
        if (filter.priority?.length && !filter.priority.includes(t.priority)) continue;
        if (filter.tag && !t.tags.includes(filter.tag)) continue;
        const title = t.title.toLowerCase();
        const body =
          `${t.description ?? ''}\n${t.notes.map((n) => n.text).join('\n')}\n${t.summary ?? ''}\n${t.tags.join(' ')}`.toLowerCase();
        let score = 0;
        let all = true;
        for (const w of words) {
          const inTitle = title.includes(w);
          const inBody = body.includes(w);
          if (!inTitle && !inBody) {
            all = false;
            break;
          }
          score += (inTitle ? 3 : 0) + (inBody ? 1 : 0);
        }
        if (all) hits.push({ task: t, score });
      }
      hits.sort(
        (a, b) => b.score - a.score || PRIORITY_RANK[a.task.priority] - PRIORITY_RANK[b.task.priority],
      );
      const page = paginate(hits, filter);
      return { ...page, items: page.items.map((h) => ({ ...summarizeTask(state, h.task), score: h.score })) };
    });
  }

  /** The best task to start now: ready, unblocked; by priority, then due date, then how much waits on it. */
  async next(filter: {
    tag?: string;
    specialist?: string;
    parent?: string;
  }): Promise<Array<{ task: TaskSummary; critical_path: number; reasons: string[] }>> {
    return this.read((state) => {
      const parent = filter.parent ? resolveId(state, filter.parent) : undefined;
      const memo = new Map<string, number>();
      const candidates: Array<{ task: Task; critical: number }> = [];
      for (const id of parent ? (state.children.get(parent) ?? []) : state.order) {
        const t = state.tasks.get(id);
        if (!t || !isReadyToStart(state, t)) continue;
        if (filter.tag && !t.tags.includes(filter.tag)) continue;
        if (filter.specialist && t.specialist !== filter.specialist) continue;
        candidates.push({ task: t, critical: criticalPathLength(state, t.id, memo) });
      }
      candidates.sort(
        (a, b) =>
          PRIORITY_RANK[a.task.priority] - PRIORITY_RANK[b.task.priority] ||
          compareDue(a.task, b.task) ||
          b.critical - a.critical ||
          a.task.created_at.localeCompare(b.task.created_at),
      );
      return candidates.slice(0, 4).map((c) => ({
        task: summarizeTask(state, c.task),
        critical_path: c.critical,
        reasons: [
          `priority ${c.task.priority}`,
          c.task.due ? `due ${c.task.due}` : 'no due date',
          c.critical > 0 ? `${c.critical} task(s) in the longest chain waiting on it` : 'nothing waits on it',
        ],
      }));
    });
  }

  /** A parent's results combined: every child with its status, summary, result and artifacts. */
  async synthesize(ref: string) {
    return this.read((state) => {
      const parent = this.require(state, ref);
      const progress = childProgress(state, parent.id);
      const children = (state.children.get(parent.id) ?? []).map((id) => {
        const t = state.tasks.get(id)!;
        return {
          id: t.id,
          title: t.title,
          status: t.status,
          ...(t.summary ? { summary: t.summary } : {}),
          ...(t.result !== undefined ? { result: t.result } : {}),
          artifacts: t.artifacts,
          subtasks: (state.children.get(t.id) ?? []).length,
        };
      });
      const lines = [
        `# ${parent.title}`,
        '',
        `${progress.completed}/${progress.total} subtasks completed${progress.open ? `, ${progress.open} open` : ''}.`,
        '',
      ];
      for (const c of children) {
        lines.push(`## ${c.title} (${c.status})`);
        if (c.summary) lines.push(c.summary);
        if (c.result !== undefined)
          lines.push('```json', JSON.stringify(c.result, null, 2).slice(0, 2000), '```');
        for (const a of c.artifacts) lines.push(`- artifact: ${a.path} (${a.bytes} bytes)`);
        lines.push('');
      }
      return {
        task: summarizeTask(state, parent),
        progress,
        children,
        artifacts: children.flatMap((c) => c.artifacts),
        report: lines.join('\n').trimEnd(),
        complete: progress.open === 0 && progress.total > 0,
      };
    });
  }

  flush(): Promise<void> {
    return this.store.flush();
  }
}
