/**
 * Cached, sorted task lists per filter. The first list of a filter scans and sorts every task;
 * after that each change re-positions only the tasks it touched (binary search + splice), so a
 * list right after a change costs about as much as a list without one, at any number of tasks.
 */
import type { PageRequest } from '../core/pagination.js';
import { decodeCursor, encodeCursor } from '../core/pagination.js';
import { isReadyToStart } from './graph.js';
import type { Priority, Status, Task, TaskState } from './model.js';
import { CLOSED, PRIORITY_RANK } from './model.js';

export type SortKey = 'priority' | 'due' | 'created' | 'updated';

export interface ListFilter extends PageRequest {
  status?: Status[] | undefined;
  priority?: Priority[] | undefined;
  tag?: string | undefined;
  /** A resolved task id for its children, or null for top-level tasks. */
  parent?: string | null | undefined;
  ready?: boolean | undefined;
  include_closed?: boolean | undefined;
  sort?: SortKey | undefined;
  order?: 'asc' | 'desc' | undefined;
}

interface Keyed {
  id: string;
  p: number;
  d: string;
  c: number;
  u: string;
}

interface Entry {
  version: number;
  sorted: Keyed[];
  byId: Map<string, Keyed>;
}

const NO_DUE = '\uffff';
/** Past this many touched tasks a full rebuild is cheaper than repositioning. */
const MAX_INCREMENTAL = 256;

const str = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function comparator(sort: SortKey): (a: Keyed, b: Keyed) => number {
  switch (sort) {
    case 'priority':
      return (a, b) => a.p - b.p || str(a.d, b.d) || a.c - b.c;
    case 'due':
      return (a, b) => str(a.d, b.d) || a.p - b.p || a.c - b.c;
    case 'updated':
      return (a, b) => str(a.u, b.u) || a.c - b.c;
    case 'created':
      return (a, b) => a.c - b.c;
  }
}

function keyOf(state: TaskState, t: Task): Keyed {
  return {
    id: t.id,
    p: PRIORITY_RANK[t.priority],
    d: t.due ?? NO_DUE,
    c: state.position.get(t.id) ?? 0,
    u: t.updated_at,
  };
}

export function matches(state: TaskState, t: Task, f: ListFilter): boolean {
  if (
    f.status && f.status.length > 0 ? !f.status.includes(t.status) : !f.include_closed && CLOSED.has(t.status)
  )
    return false;
  if (f.priority && f.priority.length > 0 && !f.priority.includes(t.priority)) return false;
  if (f.tag && !t.tags.includes(f.tag)) return false;
  if (f.parent === null && t.parent) return false;
  if (typeof f.parent === 'string' && t.parent !== f.parent) return false;
  if (f.ready !== undefined && isReadyToStart(state, t) !== f.ready) return false;
  return true;
}

/** First index whose item is not before `k`. */
function lowerBound(sorted: Keyed[], k: Keyed, cmp: (a: Keyed, b: Keyed) => number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cmp(sorted[mid]!, k) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class ListIndex {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly maxEntries = 32) {}

  /** One page of ids for `f` at the state's `version`. */
  page(
    state: TaskState,
    version: number,
    f: ListFilter,
  ): { ids: string[]; total: number; next_cursor?: string } {
    const sort = f.sort ?? 'priority';
    // JSON.stringify turns undefined into null: spell out "any parent" and "top level" apart.
    const parentKey = f.parent === null ? '<top-level>' : (f.parent ?? '<any>');
    const key = JSON.stringify([f.status, f.priority, f.tag, parentKey, f.ready, f.include_closed, sort]);
    const cmp = comparator(sort);
    let entry = this.entries.get(key);
    if (entry && entry.version !== version && !this.catchUp(state, version, f, entry, cmp)) entry = undefined;
    if (!entry) {
      entry = this.build(state, version, f, cmp);
      if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
      this.entries.set(key, entry);
    }
    const total = entry.sorted.length;
    const start = f.cursor ? decodeCursor(f.cursor) : 0;
    const end = Math.min(total, start + f.limit);
    const ids: string[] = [];
    for (let i = start; i < end; i++) ids.push(entry.sorted[f.order === 'desc' ? total - 1 - i : i]!.id);
    return { ids, total, ...(end < total ? { next_cursor: encodeCursor(end) } : {}) };
  }

  private build(
    state: TaskState,
    version: number,
    f: ListFilter,
    cmp: (a: Keyed, b: Keyed) => number,
  ): Entry {
    const source = typeof f.parent === 'string' ? (state.children.get(f.parent) ?? []) : state.order;
    const sorted: Keyed[] = [];
    for (const id of source) {
      const t = state.tasks.get(id);
      if (t && matches(state, t, f)) sorted.push(keyOf(state, t));
    }
    sorted.sort(cmp);
    return { version, sorted, byId: new Map(sorted.map((k) => [k.id, k])) };
  }

  /** Repositions the tasks changed since the entry was built; false when a rebuild is needed. */
  private catchUp(
    state: TaskState,
    version: number,
    f: ListFilter,
    entry: Entry,
    cmp: (a: Keyed, b: Keyed) => number,
  ): boolean {
    if (version < entry.version) return false; // the store was re-read from disk
    const changes = state.changes;
    const first = changes[0];
    if (!first || first.seq > entry.version + 1) return false;
    const touched = new Set<string>();
    for (let i = changes.length - 1; i >= 0 && changes[i]!.seq > entry.version; i--) {
      for (const id of changes[i]!.ids) touched.add(id);
      if (touched.size > MAX_INCREMENTAL) return false;
    }
    for (const id of touched) {
      const old = entry.byId.get(id);
      if (old) {
        let i = lowerBound(entry.sorted, old, cmp);
        while (i < entry.sorted.length && entry.sorted[i] !== old) i++;
        if (i < entry.sorted.length) entry.sorted.splice(i, 1);
        entry.byId.delete(id);
      }
      const t = state.tasks.get(id);
      if (t && matches(state, t, f)) {
        const k = keyOf(state, t);
        entry.sorted.splice(lowerBound(entry.sorted, k, cmp), 0, k);
        entry.byId.set(id, k);
      }
    }
    entry.version = version;
    return true;
  }
}
