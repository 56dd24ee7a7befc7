/**
 * Quality gates a task must pass to complete: its result validates against the task's JSON
 * Schema, and its command gates (the project's own test and build scripts, as the command policy
 * allows) exit 0. The agent's own claim never completes a task.
 */
import type { CommandGate } from './model.js';

/** What a command gate did: passed, failed, or was not run (execution off, or refused) and why. */
export interface GateRun {
  gate: string;
  ok: boolean;
  status: 'passed' | 'failed' | 'not_run';
  exit_code: number | null;
  duration_ms: number;
  /** The last lines of output, or why it did not run. */
  output_tail: string;
}

/**
 * Runs command gates. Tasks do not start programs themselves: the composition root hands them the
 * safety layer's runner (command policy, classifier, execution switch, exec boundary).
 */
export interface GateExecutor {
  /**
   * Checks that a gate may be stored on a task.
   * @throws AppError INVALID_INPUT naming what is allowed.
   */
  vet(gate: CommandGate): Promise<void>;
  /** Runs one gate. Never throws. */
  run(gate: CommandGate, signal?: AbortSignal): Promise<GateRun>;
}
