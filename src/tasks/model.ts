/**
 * The work-order model: one Task type for plain to-dos, enforced work orders (dependencies and
 * quality gates) and orchestrator-style breakdowns (parents, children, results).
 */

export const PRIORITIES = ['critical', 'high', 'medium', 'low'] as const;
export type Priority = (typeof PRIORITIES)[number];
export const PRIORITY_RANK: Record<Priority, number> = { critical: 0, high: 1, medium: 2, low: 3 };

export const STATUSES = [
  'draft',
  'ready',
  'active',
  'blocked',
  'review',
  'completed',
  'cancelled',
  'archived',
  'superseded',
] as const;
export type Status = (typeof STATUSES)[number];

/**
 * Which status may follow which. `completed` is reached only through tasks_complete, where the
 * gates run; the table lists it so the error can say so.
 */
export const TRANSITIONS: Record<Status, readonly Status[]> = {
  draft: ['ready', 'cancelled'],
  ready: ['active', 'blocked', 'draft', 'completed', 'cancelled', 'superseded'],
  active: ['review', 'blocked', 'ready', 'completed', 'cancelled', 'superseded'],
  blocked: ['ready', 'active', 'cancelled', 'superseded'],
  review: ['active', 'completed', 'cancelled'],
  completed: ['ready', 'archived'],
  cancelled: ['ready', 'archived'],
  superseded: ['archived'],
  archived: [],
};

/** Statuses in which a task no longer needs work. */
export const CLOSED: ReadonlySet<Status> = new Set(['completed', 'cancelled', 'archived', 'superseded']);

export const DEPENDENCY_KINDS = ['completion', 'data', 'approval'] as const;
export type DependencyKind = (typeof DEPENDENCY_KINDS)[number];

export const SOURCES = ['manual', 'email', 'calendar', 'claude_code', 'template', 'plan'] as const;
export type Source = (typeof SOURCES)[number];

export interface Waiver {
  by: string;
  reason: string;
  at: string;
}

export interface Dependency {
  /** The task this one waits for. */
  task: string;
  /**
   * completion: the other task is completed; data: it is completed and left an artifact;
   * approval: it is completed with `approved: true`.
   */
  kind: DependencyKind;
  waived?: Waiver;
}

export interface CommandGate {
  command: string;
  args: string[];
  timeout_s: number;
}

export interface Artifact {
  name: string;
  /** Relative to the state folder. */
  path: string;
  bytes: number;
}

export interface Note {
  at: string;
  actor: string;
  text: string;
}

export interface Task {
  id: string;
  title: string;
  description?: string;
  priority: Priority;
  status: Status;
  parent?: string;
  tags: string[];
  /** ISO date or date-time. */
  due?: string;
  estimate_hours?: number;
  /** How hard the task is, 1 (trivial) to 10 (hardest), as a planner scored it. */
  complexity?: number;
  /** Who should do it: an archetype (architect, implementer, ...) or a person. */
  specialist?: string;
  source: Source;
  /** Identity in the system the task came from (e.g. `email:<message-id>`, `ics:<uid>`); imports skip known ones. */
  external_id?: string;
  notes: Note[];
  depends_on: Dependency[];
  /** JSON Schema the completion `result` must validate against. */
  output_schema?: Record<string, unknown>;
  command_gates: CommandGate[];
  /** A human let the task complete without running its command gates (execution off). */
  gates_waived?: Waiver;
  result?: unknown;
  summary?: string;
  approved?: boolean;
  artifacts: Artifact[];
  created_by: string;
  created_at: string;
  updated_at: string;
  started_at?: string;
  completed_at?: string;
}

/** Fields a task can be created or updated with. */
export type TaskFields = Pick<
  Task,
  | 'title'
  | 'description'
  | 'priority'
  | 'tags'
  | 'due'
  | 'estimate_hours'
  | 'complexity'
  | 'specialist'
  | 'output_schema'
  | 'command_gates'
>;

interface EventBase {
  at: string;
  actor: string;
}

export type TaskEvent = EventBase &
  (
    | { type: 'added'; tasks: Task[] }
    | {
        type: 'updated';
        id: string;
        changes: Partial<TaskFields> & { parent?: string | null };
        note?: string;
      }
    | { type: 'transitioned'; id: string; from: Status; to: Status; reason?: string }
    | { type: 'dependency_added'; id: string; dependency: Dependency }
    | { type: 'dependency_removed'; id: string; on: string }
    | { type: 'dependency_waived'; id: string; on: string; reason: string }
    | { type: 'gates_waived'; id: string; reason: string }
    | {
        type: 'completed';
        id: string;
        from: Status;
        result?: unknown;
        summary?: string;
        approved?: boolean;
        artifacts: Artifact[];
        note?: string;
      }
    | { type: 'gate_failed'; id: string; violations: string[] }
  );

export interface HistoryEntry {
  seq: number;
  at: string;
  actor: string;
  type: TaskEvent['type'];
  /** One line a person can read. */
  summary: string;
}

export interface TaskState {
  tasks: Map<string, Task>;
  /** parent id -> child ids in creation order */
  children: Map<string, string[]>;
  /** task id -> ids of tasks that depend on it */
  dependents: Map<string, Set<string>>;
  history: Map<string, HistoryEntry[]>;
  /** Tasks in creation order (for stable listing). */
  order: string[];
  /** task id -> index in `order` */
  position: Map<string, number>;
  /**
   * Which tasks each recent event may have changed for listing purposes (their fields, or their
   * readiness through a dependency), newest last; bounded. Lets cached list orders update in place.
   */
  changes: Array<{ seq: number; ids: string[] }>;
  /** external_id -> task id */
  external: Map<string, string>;
}

/** How many recent events `changes` remembers. */
const CHANGE_WINDOW = 1024;

export function emptyTaskState(): TaskState {
  return {
    tasks: new Map(),
    children: new Map(),
    dependents: new Map(),
    history: new Map(),
    order: [],
    position: new Map(),
    changes: [],
    external: new Map(),
  };
}

/**
 * Every stored task gets the same fields in the same order (absent ones undefined). Objects of one
 * shape keep property access monomorphic, which makes scans over 10,000 tasks several times
 * faster; for the same reason fields are set to undefined, never deleted.
 */
function normalizeTask(t: Task): Task {
  return {
    id: t.id,
    title: t.title,
    description: t.description,
    priority: t.priority,
    status: t.status,
    parent: undefined,
    tags: [...t.tags],
    due: t.due,
    estimate_hours: t.estimate_hours,
    complexity: t.complexity,
    specialist: t.specialist,
    source: t.source,
    external_id: t.external_id,
    notes: structuredClone(t.notes),
    depends_on: structuredClone(t.depends_on),
    output_schema: t.output_schema === undefined ? undefined : structuredClone(t.output_schema),
    command_gates: structuredClone(t.command_gates),
    result: t.result === undefined ? undefined : structuredClone(t.result),
    summary: t.summary,
    approved: t.approved,
    artifacts: structuredClone(t.artifacts),
    created_by: t.created_by,
    created_at: t.created_at,
    updated_at: t.updated_at,
    started_at: t.started_at,
    completed_at: t.completed_at,
  };
}

function addHistory(state: TaskState, id: string, seq: number, event: TaskEvent, summary: string): void {
  const list = state.history.get(id) ?? [];
  list.push({ seq, at: event.at, actor: event.actor, type: event.type, summary });
  state.history.set(id, list);
}

function link(map: Map<string, Set<string>>, key: string, value: string): void {
  const set = map.get(key) ?? new Set<string>();
  set.add(value);
  map.set(key, set);
}

function setParent(state: TaskState, task: Task, parent: string | undefined): void {
  if (task.parent) {
    const siblings = state.children.get(task.parent);
    if (siblings)
      state.children.set(
        task.parent,
        siblings.filter((c) => c !== task.id),
      );
  }
  if (parent) {
    task.parent = parent;
    state.children.set(parent, [...(state.children.get(parent) ?? []), task.id]);
  } else {
    task.parent = undefined;
  }
}

function recordChange(state: TaskState, seq: number, event: TaskEvent): void {
  let ids: string[];
  switch (event.type) {
    case 'added':
      ids = event.tasks.map((t) => t.id);
      break;
    case 'transitioned':
    case 'completed':
      // A status change can change whether the tasks waiting on this one are ready.
      ids = [event.id, ...(state.dependents.get(event.id) ?? [])];
      break;
    case 'gate_failed':
      ids = [];
      break;
    default:
      ids = [event.id];
  }
  state.changes.push({ seq, ids });
  if (state.changes.length > CHANGE_WINDOW * 2) state.changes.splice(0, state.changes.length - CHANGE_WINDOW);
}

/** Applies a stored event. Events were validated when decided, so this trusts them. */
export function applyTaskEvent(state: TaskState, event: TaskEvent, seq: number): void {
  applyEvent(state, event, seq);
  recordChange(state, seq, event);
}

function applyEvent(state: TaskState, event: TaskEvent, seq: number): void {
  switch (event.type) {
    case 'added':
      for (const t of event.tasks) {
        const task = normalizeTask(t);
        const parent = t.parent;
        state.tasks.set(task.id, task);
        state.position.set(task.id, state.order.length);
        if (task.external_id) state.external.set(task.external_id, task.id);
        state.order.push(task.id);
        setParent(state, task, parent);
        for (const d of task.depends_on) link(state.dependents, d.task, task.id);
        addHistory(state, task.id, seq, event, `created "${task.title}" as ${task.status}`);
      }
      return;
    case 'updated': {
      const task = state.tasks.get(event.id);
      if (!task) return;
      const { parent, ...fields } = event.changes;
      const record = task as unknown as Record<string, unknown>;
      for (const [k, v] of Object.entries(structuredClone(fields))) record[k] = v === null ? undefined : v;
      if (parent !== undefined) setParent(state, task, parent ?? undefined);
      if (event.note) task.notes.push({ at: event.at, actor: event.actor, text: event.note });
      task.updated_at = event.at;
      const changed = Object.keys(event.changes);
      addHistory(
        state,
        task.id,
        seq,
        event,
        [changed.length ? `updated ${changed.join(', ')}` : '', event.note ? 'added a note' : '']
          .filter(Boolean)
          .join('; '),
      );
      return;
    }
    case 'transitioned': {
      const task = state.tasks.get(event.id);
      if (!task) return;
      task.status = event.to;
      task.updated_at = event.at;
      if (event.to === 'active' && !task.started_at) task.started_at = event.at;
      if (event.to === 'ready' && event.from === 'completed') task.completed_at = undefined;
      addHistory(
        state,
        task.id,
        seq,
        event,
        `${event.from} → ${event.to}${event.reason ? ` (${event.reason})` : ''}`,
      );
      return;
    }
    case 'dependency_added': {
      const task = state.tasks.get(event.id);
      if (!task) return;
      task.depends_on.push(structuredClone(event.dependency));
      task.updated_at = event.at;
      link(state.dependents, event.dependency.task, task.id);
      addHistory(
        state,
        task.id,
        seq,
        event,
        `now depends on ${event.dependency.task} (${event.dependency.kind})`,
      );
      return;
    }
    case 'dependency_removed': {
      const task = state.tasks.get(event.id);
      if (!task) return;
      task.depends_on = task.depends_on.filter((d) => d.task !== event.on);
      task.updated_at = event.at;
      state.dependents.get(event.on)?.delete(task.id);
      addHistory(state, task.id, seq, event, `no longer depends on ${event.on}`);
      return;
    }
    case 'dependency_waived': {
      const task = state.tasks.get(event.id);
      const dep = task?.depends_on.find((d) => d.task === event.on);
      if (!task || !dep) return;
      dep.waived = { by: event.actor, reason: event.reason, at: event.at };
      task.updated_at = event.at;
      addHistory(state, task.id, seq, event, `waived dependency on ${event.on}: ${event.reason}`);
      return;
    }
    case 'gates_waived': {
      const task = state.tasks.get(event.id);
      if (!task) return;
      task.gates_waived = { by: event.actor, reason: event.reason, at: event.at };
      task.updated_at = event.at;
      addHistory(state, task.id, seq, event, `command gates waived: ${event.reason}`);
      return;
    }
    case 'completed': {
      const task = state.tasks.get(event.id);
      if (!task) return;
      task.status = 'completed';
      task.completed_at = event.at;
      task.updated_at = event.at;
      if (!task.started_at) task.started_at = event.at;
      if (event.result !== undefined) task.result = structuredClone(event.result);
      if (event.summary !== undefined) task.summary = event.summary;
      if (event.approved !== undefined) task.approved = event.approved;
      task.artifacts.push(...event.artifacts);
      if (event.note) task.notes.push({ at: event.at, actor: event.actor, text: event.note });
      addHistory(state, task.id, seq, event, `${event.from} → completed (gates passed)`);
      return;
    }
    case 'gate_failed':
      addHistory(
        state,
        event.id,
        seq,
        event,
        `completion refused: ${event.violations.length} gate violation(s): ${event.violations.join('; ').slice(0, 300)}`,
      );
      return;
  }
}
