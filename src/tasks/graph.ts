/** Dependency-graph questions about a TaskState. Pure functions. */
import type { Dependency, Task, TaskState } from './model.js';
import { CLOSED } from './model.js';

export interface Blocker {
  task: string;
  kind: Dependency['kind'];
  /** Why it is not satisfied yet. */
  reason: string;
}

/** Whether one dependency is satisfied (or waived). */
function dependencyBlocker(state: TaskState, dep: Dependency): Blocker | undefined {
  if (dep.waived) return undefined;
  const other = state.tasks.get(dep.task);
  if (!other) return { task: dep.task, kind: dep.kind, reason: 'the task no longer exists' };
  const done =
    other.status === 'completed' || (other.status === 'archived' && other.completed_at !== undefined);
  if (!done) return { task: dep.task, kind: dep.kind, reason: `it is ${other.status}, not completed` };
  if (dep.kind === 'data' && other.artifacts.length === 0 && other.result === undefined) {
    return { task: dep.task, kind: dep.kind, reason: 'it completed without a result or artifact' };
  }
  if (dep.kind === 'approval' && other.approved !== true) {
    return { task: dep.task, kind: dep.kind, reason: 'it completed without approved: true' };
  }
  return undefined;
}

export function blockers(state: TaskState, task: Task): Blocker[] {
  const out: Blocker[] = [];
  for (const dep of task.depends_on) {
    const b = dependencyBlocker(state, dep);
    if (b) out.push(b);
  }
  return out;
}

/** Ready to start: status ready and every dependency satisfied or waived. */
export function isReadyToStart(state: TaskState, task: Task): boolean {
  return task.status === 'ready' && blockers(state, task).length === 0;
}

/**
 * If `from` starts depending on `to`, is there a cycle? Returns the cycle as a path of ids
 * (from → to → ... → from), or undefined.
 * `extra` holds dependency edges not yet in the state (a batch being added).
 */
export function findCycle(
  state: TaskState,
  from: string,
  to: string,
  extra: ReadonlyMap<string, readonly string[]> = new Map(),
): string[] | undefined {
  if (from === to) return [from, from];
  const edges = (id: string): string[] => [
    ...(state.tasks.get(id)?.depends_on.map((d) => d.task) ?? []),
    ...(extra.get(id) ?? []),
  ];
  const seen = new Set<string>();
  const stack: Array<{ id: string; path: string[] }> = [{ id: to, path: [from, to] }];
  while (stack.length > 0) {
    const { id, path } = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    for (const next of edges(id)) {
      if (next === from) return [...path, from];
      if (!seen.has(next)) stack.push({ id: next, path: [...path, next] });
    }
  }
  return undefined;
}

/** Would making `parent` the parent of `child` put `child` among its own ancestors? */
export function wouldNestInItself(state: TaskState, child: string, parent: string): boolean {
  let cursor: string | undefined = parent;
  for (let depth = 0; cursor !== undefined && depth < 10_000; depth++) {
    if (cursor === child) return true;
    cursor = state.tasks.get(cursor)?.parent;
  }
  return false;
}

/**
 * Length of the longest chain of open tasks that wait (transitively) on `id`: how much work a
 * delay of this task would delay. Memoised per call through `memo`.
 */
export function criticalPathLength(state: TaskState, id: string, memo = new Map<string, number>()): number {
  const cached = memo.get(id);
  if (cached !== undefined) return cached;
  memo.set(id, 0); // guards against cycles in hand-edited data
  let longest = 0;
  for (const dependent of state.dependents.get(id) ?? []) {
    const t = state.tasks.get(dependent);
    if (!t || CLOSED.has(t.status)) continue;
    longest = Math.max(longest, 1 + criticalPathLength(state, dependent, memo));
  }
  memo.set(id, longest);
  return longest;
}

/** Completed / total over the direct children, closed-but-not-completed counted separately. */
export function childProgress(state: TaskState, parent: string) {
  const ids = state.children.get(parent) ?? [];
  let completed = 0;
  let closed = 0;
  for (const id of ids) {
    const t = state.tasks.get(id);
    if (!t) continue;
    if (t.status === 'completed' || (t.status === 'archived' && t.completed_at)) completed++;
    else if (CLOSED.has(t.status)) closed++;
  }
  return { total: ids.length, completed, closed_other: closed, open: ids.length - completed - closed };
}
