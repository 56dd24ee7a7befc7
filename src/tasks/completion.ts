/** When a task may complete: the transition table, dependencies, subtasks, the output schema; and the GATE_FAILED error. */
import { AppError } from '../core/errors.js';
import type { SchemaCache } from '../core/jsonSchema.js';
import type { GateRun } from './gates.js';
import { blockers } from './graph.js';
import { CLOSED, TRANSITIONS } from './model.js';
import type { Status, Task, TaskState } from './model.js';

export interface CompleteInput {
  result?: unknown;
  summary?: string;
  detailed_work?: string;
  artifact_name?: string;
  approved?: boolean;
  note?: string;
}

/** Statuses the transition table lets complete (a blocked task must be unblocked first). */
export const COMPLETABLE: readonly Status[] = (Object.keys(TRANSITIONS) as Status[]).filter((s) =>
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

/** What would stop `task` from completing now, besides its command gates. */
export function completionViolations(
  state: TaskState,
  task: Task,
  input: CompleteInput,
  schemas: SchemaCache,
): string[] {
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
    else out.push(...schemas.violations(task.output_schema, input.result));
  }
  return out;
}
