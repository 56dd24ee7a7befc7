/** How a task is shown in lists and results, and how a reference (id, prefix) finds it. */
import { AppError } from '../core/errors.js';
import { blockers, childProgress, isReadyToStart } from './graph.js';
import { CLOSED } from './model.js';
import type { Priority, Status, Task, TaskState } from './model.js';

export interface TaskSummary {
  id: string;
  title: string;
  status: Status;
  priority: Priority;
  due?: string;
  tags: string[];
  parent?: string;
  specialist?: string;
  complexity?: number;
  children?: { total: number; completed: number };
  ready_to_start: boolean;
  blocked_by?: string[];
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
  if (task.complexity !== undefined) out.complexity = task.complexity;
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

export function compareDue(a: Task, b: Task): number {
  if (a.due === b.due) return 0;
  if (!a.due) return 1;
  if (!b.due) return -1;
  return a.due < b.due ? -1 : 1;
}
