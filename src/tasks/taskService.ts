/**
 * Work orders: every operation the task tools offer, validated against the latest state inside a
 * store transaction (so concurrent servers cannot break an invariant), recorded as events with
 * their actor. Expected failures throw AppError from inside `decide`, which appends nothing.
 */
import type { Clock } from '../core/clock.js';
import { isoTime } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { paginate } from '../core/pagination.js';
import type { Page, PageRequest } from '../core/pagination.js';
import type { EventStore } from '../storage/eventStore.js';
import type { Storage } from '../storage/storage.js';
import { writeArtifact } from './artifacts.js';
import { buildBatch } from './batch.js';
import type { NewTask } from './batch.js';
import { COMPLETABLE, completionViolations, gateFailure } from './completion.js';
import type { CompleteInput } from './completion.js';
import { nextTasks, searchTasks, synthesisOf } from './queries.js';
import type { SearchFilter } from './queries.js';
import { resolveId, summarizeTask } from './summary.js';
import type { TaskSummary } from './summary.js';
import { ListIndex } from './listIndex.js';
import type { ListFilter } from './listIndex.js';
import { SchemaCache } from '../core/jsonSchema.js';
import type { GateExecutor, GateRun } from './gates.js';
import { blockers, childProgress, findCycle, wouldNestInItself } from './graph.js';
import type { Blocker } from './graph.js';
import { applyTaskEvent, emptyTaskState, TRANSITIONS } from './model.js';
import type {
  Artifact,
  CommandGate,
  DependencyKind,
  HistoryEntry,
  Source,
  Status,
  Task,
  TaskEvent,
  TaskFields,
  TaskState,
} from './model.js';

export interface ListRequest extends Omit<ListFilter, 'parent'> {
  /** A task id/prefix for its children, or "root" for top-level tasks. */
  parent?: string | undefined;
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
      const tasks = buildBatch(state, prepared, actor, source, this.now());
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
      const tasks = buildBatch(state, fresh, actor, source, this.now());
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
      return { task: structuredClone(t), violations: completionViolations(state, t, input, this.schemas) };
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
      const late = completionViolations(state, current, input, this.schemas);
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

  /** Tasks matching every word of `text`, best first. */
  async query(text: string, filter: SearchFilter): Promise<Page<TaskSummary & { score: number }>> {
    return this.read((state) => searchTasks(state, text, filter));
  }

  /** The best task to start now: ready, unblocked; by priority, then due date, then how much waits on it. */
  async next(filter: { tag?: string; specialist?: string; parent?: string }) {
    return this.read((state) => nextTasks(state, filter));
  }

  /** A parent's results combined: every child with its status, summary, result and artifacts. */
  async synthesize(ref: string) {
    return this.read((state) => synthesisOf(state, this.require(state, ref)));
  }

  flush(): Promise<void> {
    return this.store.flush();
  }
}
