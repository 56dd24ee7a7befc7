/** Read-only questions over the task state: search, what to start next, a parent's combined results. */
import { paginate } from '../core/pagination.js';
import type { Page, PageRequest } from '../core/pagination.js';
import { childProgress, criticalPathLength, isReadyToStart } from './graph.js';
import { CLOSED, PRIORITY_RANK } from './model.js';
import type { Priority, Status, Task, TaskState } from './model.js';
import { compareDue, resolveId, summarizeTask } from './summary.js';
import type { TaskSummary } from './summary.js';

/** Which tasks a search looks at, and the page of hits. */
export type SearchFilter = {
  status?: Status[];
  priority?: Priority[];
  tag?: string;
  include_closed?: boolean;
} & PageRequest;

/** Tasks whose title or body holds every word of `text`, best first (title hits weigh 3, body 1). */
export function searchTasks(
  state: TaskState,
  text: string,
  filter: SearchFilter,
): Page<TaskSummary & { score: number }> {
  const words = text
    .toLowerCase()
    .split(/[^\p{L}\p{N}_-]+/u)
    .filter((w) => w.length > 0);
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
  hits.sort((a, b) => b.score - a.score || PRIORITY_RANK[a.task.priority] - PRIORITY_RANK[b.task.priority]);
  const page = paginate(hits, filter);
  return { ...page, items: page.items.map((h) => ({ ...summarizeTask(state, h.task), score: h.score })) };
}

/**
 * The best task to start now: a ready leaf (a parent whose subtasks are open is their sum, not a
 * piece of work), unblocked; by priority (a subtask counts with the most urgent open task it is
 * part of), then due date, then how much waits on it. `parent` looks at every task below it.
 */
export function nextTasks(
  state: TaskState,
  filter: {
    tag?: string;
    specialist?: string;
    parent?: string;
  },
): Array<{ task: TaskSummary; critical_path: number; reasons: string[] }> {
  const parent = filter.parent ? resolveId(state, filter.parent) : undefined;
  const memo = new Map<string, number>();
  const isOpen = (id: string) => {
    const t = state.tasks.get(id);
    return t !== undefined && !CLOSED.has(t.status);
  };
  const candidates: Array<{ task: Task; critical: number; rank: number; under?: Task }> = [];
  for (const id of parent ? below(state, parent) : state.order) {
    const t = state.tasks.get(id);
    if (!t || !isReadyToStart(state, t)) continue;
    if ((state.children.get(t.id) ?? []).some(isOpen)) continue;
    if (filter.tag && !t.tags.includes(filter.tag)) continue;
    if (filter.specialist && t.specialist !== filter.specialist) continue;
    // The most urgent open task it is part of lends it its priority.
    let rank = PRIORITY_RANK[t.priority];
    let under: Task | undefined;
    const seen = new Set<string>([t.id]);
    for (let up = t.parent; up && !seen.has(up); up = state.tasks.get(up)?.parent) {
      seen.add(up);
      const a = state.tasks.get(up);
      if (a && !CLOSED.has(a.status) && PRIORITY_RANK[a.priority] < rank) {
        rank = PRIORITY_RANK[a.priority];
        under = a;
      }
    }
    candidates.push({
      task: t,
      critical: criticalPathLength(state, t.id, memo),
      rank,
      ...(under ? { under } : {}),
    });
  }
  candidates.sort(
    (a, b) =>
      a.rank - b.rank ||
      compareDue(a.task, b.task) ||
      b.critical - a.critical ||
      a.task.created_at.localeCompare(b.task.created_at),
  );
  return candidates.slice(0, 4).map((c) => {
    const within = c.task.parent ? state.tasks.get(c.task.parent) : undefined;
    return {
      task: summarizeTask(state, c.task),
      critical_path: c.critical,
      reasons: [
        c.under
          ? `priority ${c.under.priority} (part of ${c.under.id} "${c.under.title.slice(0, 80)}")`
          : `priority ${c.task.priority}`,
        c.task.due ? `due ${c.task.due}` : 'no due date',
        c.critical > 0 ? `${c.critical} task(s) in the longest chain waiting on it` : 'nothing waits on it',
        within
          ? `a leaf of ${within.id} "${within.title.slice(0, 80)}": can be started and finished on its own`
          : 'can be started and finished on its own',
      ],
    };
  });
}

/** Every task below `root` (children, their children, ...), in order. */
function below(state: TaskState, root: string): string[] {
  const out: string[] = [];
  const stack = [...(state.children.get(root) ?? [])];
  const seen = new Set<string>();
  while (stack.length) {
    const id = stack.shift()!;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(id);
    stack.push(...(state.children.get(id) ?? []));
  }
  return out;
}

/** A parent's results combined: every child with its status, summary, result and artifacts. */
export function synthesisOf(state: TaskState, parent: Task) {
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
}
