/**
 * Deterministic reports over the task state: maintenance (stale work, structural problems,
 * handover), analysis (where work stands and what is at risk) and the daily briefing. They need
 * no model; when the agent pipeline exists the tools may ask one for prose on top of these facts.
 */
import { blockers, childProgress, criticalPathLength, isReadyToStart } from './graph.js';
import type { Status, Task, TaskState } from './model.js';
import { CLOSED, PRIORITY_RANK, STATUSES } from './model.js';

const DAY = 24 * 3600_000;

function open(t: Task): boolean {
  return !CLOSED.has(t.status);
}

function today(now: Date): string {
  return now.toISOString().slice(0, 10);
}

function line(t: Task): string {
  return `${t.id} [${t.status}/${t.priority}] ${t.title}${t.due ? ` (due ${t.due.slice(0, 10)})` : ''}`;
}

export interface Finding {
  task: string;
  kind: string;
  detail: string;
  fix: string;
}

/** Open work nobody touched for `staleDays`, long-running active work, and overdue tasks. */
export function staleScan(state: TaskState, now: Date, staleDays: number): Finding[] {
  const out: Finding[] = [];
  const cutoff = now.getTime() - staleDays * DAY;
  for (const id of state.order) {
    const t = state.tasks.get(id)!;
    if (!open(t) || t.status === 'draft') continue;
    if (t.due && t.due.slice(0, 10) < today(now)) {
      out.push({
        task: t.id,
        kind: 'overdue',
        detail: `due ${t.due.slice(0, 10)}`,
        fix: 'Finish it, or move the due date with tasks_update',
      });
    }
    const updated = Date.parse(t.updated_at);
    if (updated < cutoff) {
      const days = Math.floor((now.getTime() - updated) / DAY);
      out.push({
        task: t.id,
        kind: t.status === 'active' ? 'stalled' : 'stale',
        detail: `${t.status}, untouched for ${days} days`,
        fix:
          t.status === 'active'
            ? 'Add a progress note, or move it back to ready'
            : 'Cancel it if it no longer matters, or add a note',
      });
    }
  }
  return out;
}

/** Structural problems: dependencies that can never be satisfied, closed parents of open work, dangling references. */
export function validateStructure(state: TaskState): Finding[] {
  const out: Finding[] = [];
  for (const id of state.order) {
    const t = state.tasks.get(id)!;
    if (t.parent && !state.tasks.has(t.parent)) {
      out.push({
        task: t.id,
        kind: 'dangling_parent',
        detail: `parent ${t.parent} does not exist`,
        fix: 'tasks_update {parent: null}',
      });
    }
    if (!open(t)) {
      const openKids = (state.children.get(t.id) ?? []).filter((c) => open(state.tasks.get(c)!));
      if (openKids.length > 0) {
        out.push({
          task: t.id,
          kind: 'closed_parent_with_open_subtasks',
          detail: `${t.status} but ${openKids.length} subtask(s) are open: ${openKids.slice(0, 5).join(', ')}`,
          fix: 'Close or move the subtasks, or reopen the parent',
        });
      }
      continue;
    }
    for (const dep of t.depends_on) {
      if (dep.waived) continue;
      const other = state.tasks.get(dep.task);
      if (!other) {
        out.push({
          task: t.id,
          kind: 'missing_dependency',
          detail: `depends on ${dep.task}, which does not exist`,
          fix: 'tasks_depend {action: "remove"}',
        });
      } else if (
        other.status === 'cancelled' ||
        other.status === 'superseded' ||
        (other.status === 'archived' && !other.completed_at)
      ) {
        out.push({
          task: t.id,
          kind: 'unsatisfiable_dependency',
          detail: `depends on ${other.id}, which is ${other.status} and will never complete`,
          fix: 'Remove or waive that dependency (tasks_depend), or reopen the other task',
        });
      }
    }
  }
  return out;
}

export interface Analysis {
  total: number;
  by_status: Record<string, number>;
  by_priority: Record<string, number>;
  open: number;
  ready_to_start: number;
  blocked: number;
  overdue: number;
  completed_last_7_days: number;
  completed_per_day_14d: number;
  open_estimate_hours: number;
  /** Open tasks a planner scored (1-10): how many, their mean, and the hardest ones. */
  complexity: {
    scored: number;
    mean?: number;
    hardest: Array<{ task: string; title: string; complexity: number }>;
  };
  bottlenecks: Array<{ task: string; title: string; waiting: number }>;
  longest_chain: number;
  risks: string[];
}

/** Where the work stands, for all tasks or the subtree under `root`. */
export function analyze(state: TaskState, now: Date, root?: string): Analysis {
  const ids = root ? subtree(state, root) : state.order;
  const by_status: Record<string, number> = Object.fromEntries(STATUSES.map((s) => [s, 0]));
  const by_priority: Record<string, number> = { critical: 0, high: 0, medium: 0, low: 0 };
  let openCount = 0;
  let ready = 0;
  let blocked = 0;
  let overdue = 0;
  let done7 = 0;
  let done14 = 0;
  let estimate = 0;
  const memo = new Map<string, number>();
  const chains: Array<{ task: Task; waiting: number }> = [];
  const scored: Task[] = [];
  for (const id of ids) {
    const t = state.tasks.get(id);
    if (!t) continue;
    by_status[t.status] = (by_status[t.status] ?? 0) + 1;
    if (t.completed_at) {
      const age = now.getTime() - Date.parse(t.completed_at);
      if (age <= 7 * DAY) done7++;
      if (age <= 14 * DAY) done14++;
    }
    if (!open(t)) continue;
    openCount++;
    by_priority[t.priority] = (by_priority[t.priority] ?? 0) + 1;
    if (isReadyToStart(state, t)) ready++;
    if (t.status === 'blocked' || blockers(state, t).length > 0) blocked++;
    if (t.due && t.due.slice(0, 10) < today(now)) overdue++;
    estimate += t.estimate_hours ?? 0;
    if (t.complexity !== undefined) scored.push(t);
    chains.push({ task: t, waiting: criticalPathLength(state, t.id, memo) });
  }
  chains.sort(
    (a, b) => b.waiting - a.waiting || PRIORITY_RANK[a.task.priority] - PRIORITY_RANK[b.task.priority],
  );
  const perDay = done14 / 14;
  const risks: string[] = [];
  if (overdue > 0) risks.push(`${overdue} open task(s) are overdue`);
  if (openCount > 0 && blocked / openCount > 0.5)
    risks.push(`${blocked} of ${openCount} open tasks are blocked`);
  if (openCount > 0 && ready === 0) risks.push('nothing can start now: every open task waits on something');
  const hard = scored.filter((t) => t.complexity! >= 8).length;
  if (hard > 0) risks.push(`${hard} open task(s) scored complexity 8 or more: consider tasks_expand`);
  const critical = by_priority.critical ?? 0;
  if (critical > 3) risks.push(`${critical} open critical tasks compete for attention`);
  if (perDay > 0 && openCount / perDay > 60)
    risks.push(
      `at ${perDay.toFixed(1)} completions a day, the open work takes over ${Math.round(openCount / perDay)} days`,
    );
  return {
    total: ids.length,
    by_status,
    by_priority,
    open: openCount,
    ready_to_start: ready,
    blocked,
    overdue,
    completed_last_7_days: done7,
    completed_per_day_14d: Number(perDay.toFixed(2)),
    open_estimate_hours: estimate,
    complexity: {
      scored: scored.length,
      ...(scored.length
        ? { mean: Number((scored.reduce((n, t) => n + t.complexity!, 0) / scored.length).toFixed(1)) }
        : {}),
      hardest: [...scored]
        .sort((a, b) => b.complexity! - a.complexity!)
        .slice(0, 5)
        .map((t) => ({ task: t.id, title: t.title, complexity: t.complexity! })),
    },
    bottlenecks: chains
      .filter((c) => c.waiting > 0)
      .slice(0, 5)
      .map((c) => ({ task: c.task.id, title: c.task.title, waiting: c.waiting })),
    longest_chain: chains[0]?.waiting ?? 0,
    risks,
  };
}

function subtree(state: TaskState, root: string): string[] {
  const out: string[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const id = stack.pop()!;
    out.push(id);
    stack.push(...(state.children.get(id) ?? []));
  }
  return out;
}

export interface Briefing {
  date: string;
  due_today: string[];
  overdue: string[];
  in_progress: string[];
  blocked: string[];
  next_up: string[];
  recently_completed: string[];
  text: string;
}

/** What matters in the next `horizonDays`: due and overdue work, what is moving, what is stuck, what to start. */
export function briefing(state: TaskState, now: Date, horizonDays: number): Briefing {
  const horizon = new Date(now.getTime() + horizonDays * DAY).toISOString().slice(0, 10);
  const pick = (pred: (t: Task) => boolean, sort?: (a: Task, b: Task) => number) => {
    const list = state.order.map((id) => state.tasks.get(id)!).filter(pred);
    if (sort) list.sort(sort);
    return list.slice(0, 10);
  };
  const byPriority = (a: Task, b: Task) => PRIORITY_RANK[a.priority] - PRIORITY_RANK[b.priority];
  const dueSoon = pick(
    (t) => open(t) && !!t.due && t.due.slice(0, 10) >= today(now) && t.due.slice(0, 10) <= horizon,
    byPriority,
  );
  const overdue = pick((t) => open(t) && !!t.due && t.due.slice(0, 10) < today(now), byPriority);
  const active = pick((t) => t.status === 'active' || t.status === 'review', byPriority);
  const stuck = pick(
    (t) => open(t) && t.status !== 'draft' && (t.status === 'blocked' || blockers(state, t).length > 0),
    byPriority,
  );
  const memo = new Map<string, number>();
  const next = pick(
    (t) => isReadyToStart(state, t),
    (a, b) =>
      byPriority(a, b) ||
      (a.due ?? '\uffff').localeCompare(b.due ?? '\uffff') ||
      criticalPathLength(state, b.id, memo) - criticalPathLength(state, a.id, memo),
  ).slice(0, 5);
  const recent = pick(
    (t) => !!t.completed_at && now.getTime() - Date.parse(t.completed_at) <= DAY * Math.max(1, horizonDays),
    (a, b) => (b.completed_at ?? '').localeCompare(a.completed_at ?? ''),
  );
  const section = (title: string, tasks: Task[], extra?: (t: Task) => string) =>
    tasks.length === 0
      ? []
      : [`## ${title}`, ...tasks.map((t) => `- ${line(t)}${extra ? extra(t) : ''}`), ''];
  const text = [
    `# Briefing for ${today(now)}`,
    '',
    ...section(horizonDays <= 1 ? 'Due today' : `Due in the next ${horizonDays} days`, dueSoon),
    ...section('Overdue', overdue),
    ...section('In progress', active, (t) =>
      t.notes.length ? ` — last note: ${t.notes.at(-1)!.text.slice(0, 120)}` : '',
    ),
    ...section('Blocked', stuck, (t) => {
      const b = blockers(state, t);
      return b.length ? ` — waits on ${b.map((x) => x.task).join(', ')}` : '';
    }),
    ...section('Start next', next),
    ...section('Recently completed', recent, (t) => (t.summary ? ` — ${t.summary.slice(0, 120)}` : '')),
  ];
  if (text.length <= 2) text.push('Nothing is due, in progress or ready.');
  return {
    date: today(now),
    due_today: dueSoon.map((t) => t.id),
    overdue: overdue.map((t) => t.id),
    in_progress: active.map((t) => t.id),
    blocked: stuck.map((t) => t.id),
    next_up: next.map((t) => t.id),
    recently_completed: recent.map((t) => t.id),
    text: text.join('\n').trimEnd(),
  };
}

/** A handover document: the briefing plus structure problems and every open task's state. */
export function handover(state: TaskState, now: Date): string {
  const b = briefing(state, now, 7);
  const problems = [...validateStructure(state), ...staleScan(state, now, 7)];
  const parents = state.order
    .map((id) => state.tasks.get(id)!)
    .filter((t) => open(t) && (state.children.get(t.id)?.length ?? 0) > 0)
    .map((t) => {
      const p = childProgress(state, t.id);
      return `- ${line(t)}: ${p.completed}/${p.total} subtasks done`;
    });
  const counts = STATUSES.map(
    (s) => [s, state.order.filter((id) => state.tasks.get(id)!.status === s).length] as [Status, number],
  )
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${s} ${n}`)
    .join(', ');
  return [
    `# Handover ${today(now)}`,
    '',
    `Tasks: ${counts || 'none'}.`,
    '',
    b.text.replace(/^# .*\n\n?/, ''),
    '',
    ...(parents.length ? ['## Open work with subtasks', ...parents, ''] : []),
    ...(problems.length
      ? ['## Needs attention', ...problems.map((p) => `- ${p.task} ${p.kind}: ${p.detail}. ${p.fix}`), '']
      : []),
  ]
    .join('\n')
    .trimEnd();
}
