/** What the supervisor's parts share: its dependencies, the shapes it answers with, its limits. */
import type { Archetype } from '../../agents/archetypes.js';
import type { ProviderName } from '../../agents/providers/types.js';
import type { SpawnPipeline } from '../../agents/spawn.js';
import type { WorkerProfile, WorkerRegistry } from '../../agents/workers.js';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type { Pricing } from '../../cost/pricing.js';
import type { Inbox } from '../../safety/inbox.js';
import type { DocumentStore } from '../../storage/documentStore.js';
import type { ClaimBook } from '../../tasks/claims.js';
import type { Task } from '../../tasks/model.js';
import type { TaskService } from '../../tasks/taskService.js';
import type { GradedRunDeps } from '../../spawning/gradedRun.js';
import type { CacheDoc, Run, RunDoc, RunOptions, RunStatus } from '../runModel.js';

export interface SupervisorDeps {
  tasks: TaskService;
  graded: GradedRunDeps;
  spawn: SpawnPipeline;
  workers: WorkerRegistry;
  archetypes: ReadonlyMap<string, Archetype>;
  inbox: Inbox;
  claims: ClaimBook;
  pricing: Pricing;
  clock: Clock;
  logger: Logger;
  runs: DocumentStore<RunDoc>;
  cache: DocumentStore<CacheDoc>;
  /** How often the loop looks at a run waiting for a human or another process (ms). Default 500. */
  pollMs?: number;
  /** A run with no onboarded worker interviews the configured models first unless told not to. */
  interviewFirst?: boolean;
}

export interface StartRequest extends Partial<RunOptions> {
  root: string;
  dry_run: boolean;
  /** With no onboarded worker: interview the configured models first, within the run's budget. */
  interview?: boolean | undefined;
}

/** A model a run would interview before it starts (no onboarded worker yet). */
export interface PlannedInterview {
  worker: string;
  worst_usd: number;
}

export interface Worker {
  id: string;
  provider: ProviderName;
  model: string;
  status: WorkerProfile['status'];
  trust: number;
}

export interface RunPreview {
  run: Run;
  waves: string[][];
  critical_path: string[];
  workers: Record<string, string | null>;
  reviewed: string[];
  estimate_usd: number;
  leader?: string | undefined;
  /** Interviews the run needs first (no onboarded worker yet); their cost is in estimate_usd. */
  interviews: PlannedInterview[];
}

export interface CallerNode {
  run_id: string;
  task: string;
  title: string;
  /** The root's synthesis: complete the root task with the combined result. */
  synthesis: boolean;
  specialist?: string | undefined;
  prompt: string;
  attempt: number;
}

/** Why tasks_run stopped waiting: the run ended, needs a person, or the wait ran out. */
export type WaitOutcome = 'ended' | 'needs_person' | 'wait_s';

export interface RunStatusEvent {
  run: string;
  status: RunStatus;
}

export interface RunEvent {
  run: string;
  done: number;
  total: number;
  message: string;
}

export const LEASE_MS = 10_000;
export const RESULT_CHARS = 20_000;
/** Answers up to this long are stored as the task's result; longer ones as an artifact file. */
export const SHORT_RESULT = 1000;
export const RUN_HISTORY = 300;
/** The tag a root gets when its run ended with some subtasks skipped. */
export const PARTLY_DONE_TAG = 'partly-done';

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

/** A task's result as text (its JSON result, else its summary). */
export function resultText(t: Task): string {
  return t.result !== undefined ? JSON.stringify(t.result) : (t.summary ?? '');
}
