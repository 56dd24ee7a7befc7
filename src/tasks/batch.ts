/** A batch of new tasks: refs within the batch, dependencies, parents and cycle checks. */
import { AppError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { findCycle } from './graph.js';
import type { CommandGate, Dependency, DependencyKind, Priority, Source, Task, TaskState } from './model.js';
import { resolveId } from './summary.js';

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
  complexity?: number;
  specialist?: string;
  source?: Source;
  output_schema?: Record<string, unknown>;
  command_gates?: Array<Omit<CommandGate, 'timeout_s'> & { timeout_s?: number }>;
  external_id?: string;
  /** Notes to start with. */
  notes?: string[];
}

/** Builds the tasks of a batch against `state`. @throws AppError for bad refs, ids or cycles. */
export function buildBatch(
  state: TaskState,
  prepared: Array<{ item: NewTask; gates: CommandGate[] }>,
  actor: string,
  source: Source,
  at: string,
): Task[] {
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
    if (item.complexity !== undefined) task.complexity = item.complexity;
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
