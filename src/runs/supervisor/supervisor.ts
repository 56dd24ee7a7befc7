/**
 * Supervisor runs: the leader's task graph carried out by workers.
 *
 *   start (runStarter.ts) -> nodes = the open leaves under a root task, with their dependencies;
 *     with no onboarded worker, the configured models are interviewed first (on request)
 *   drive (driver.ts, the process holding the run's lease): ready nodes start up to the
 *     concurrency; each is claimed once (tasks/claims.ts), run by the best onboarded worker for its
 *     kind (workerChoice.ts) through the graded pipeline (nodeRunner.ts), its answer recorded at
 *     once (a resumed run never repeats a recorded call), reviewed by the leader when the worker
 *     is limited or the node critical (leader.ts), then completed through the task's own gates.
 *     A failure is retried with the reasons fed back, then reassigned, then blocked with a
 *     decision in the inbox for a human (failurePolicy.ts); everything that does not depend on it
 *     goes on, and a person's rejection skips what needs it.
 *   end -> the leader synthesises the children's results and completes the root.
 *
 * Caller mode (callerMode.ts) hands the same nodes, one at a time with their specialist prompt,
 * to the MCP caller (Claude Code or its subagents), who reports back with tasks_complete: the same
 * graders, reviews and gates apply. Everything a model or caller wrote reaches a prompt quoted as
 * data. What lives only while this process drives a run is one ActiveRun (activeRun.ts); what is
 * stored is the run document (runStore.ts).
 */
import type { EventEmitter } from 'node:events';
import type { TaskService } from '../../tasks/taskService.js';
import type { CompleteInput } from '../../tasks/completion.js';
import type { Run } from '../runModel.js';
import type { ActiveRun } from './activeRun.js';
import { CallerMode } from './callerMode.js';
import { Driver } from './driver.js';
import { FailurePolicy } from './failurePolicy.js';
import { Leader } from './leader.js';
import { NodeRunner } from './nodeRunner.js';
import { RunStarter } from './runStarter.js';
import { RunStore } from './runStore.js';
import type { CallerNode, RunPreview, StartRequest, SupervisorDeps, WaitOutcome } from './types.js';
import { WorkerChoice } from './workerChoice.js';

export class Supervisor {
  private readonly store: RunStore;
  private readonly driver: Driver;
  private readonly caller: CallerMode;
  private readonly starter: RunStarter;

  constructor(deps: SupervisorDeps) {
    const active = new Map<string, ActiveRun>();
    this.store = new RunStore(deps);
    const workers = new WorkerChoice(deps);
    const failure = new FailurePolicy(deps, this.store);
    const leader = new Leader(deps, this.store, workers, failure, active);
    const nodes = new NodeRunner(deps, this.store, workers, failure, leader, active);
    this.driver = new Driver(deps, this.store, failure, leader, nodes, active);
    this.caller = new CallerMode(deps, this.store, workers, failure, leader);
    this.starter = new RunStarter(deps, this.store, workers, this.driver);
  }

  /** `progress` (RunEvent) as nodes end, `status` (RunStatusEvent) when a run's status changes. */
  get events(): EventEmitter {
    return this.store.events;
  }

  /** @throws AppError NOT_FOUND */
  get(id: string): Promise<Run> {
    return this.store.get(id);
  }

  list(): Promise<Run[]> {
    return this.store.list();
  }

  /**
   * Builds the run over the open leaves under `root`; a dry run returns it without storing.
   * @throws AppError NOT_FOUND, INVALID_INPUT (no subtasks, no onboarded worker), BUDGET_EXCEEDED
   */
  start(req: StartRequest, actor: string): Promise<RunPreview> {
    return this.starter.start(req, actor);
  }

  /** Drives an agents-mode run in this process. @throws AppError CONFLICT while another process holds it. */
  resume(id: string, actor: string): Promise<Run> {
    return this.driver.resume(id, actor);
  }

  /** Until the run needs a person, ends, or `ms` pass, whichever comes first. */
  wait(id: string, ms: number): Promise<WaitOutcome> {
    return this.driver.wait(id, ms);
  }

  /** Takes over the unfinished runs nobody drives; returns their ids. */
  adoptOrphans(): Promise<string[]> {
    return this.driver.adoptOrphans();
  }

  /** Adopts orphaned runs now and whenever a lease may have run out. */
  startAutoResume(): void {
    this.driver.startAutoResume();
  }

  cancel(id: string, actor: string, reason: string): Promise<Run> {
    return this.driver.cancel(id, actor, reason);
  }

  nextForCaller(id: string, holder: string, label: string): Promise<CallerNode | undefined> {
    return this.caller.nextForCaller(id, holder, label);
  }

  callerRunOf(taskId: string): Promise<Run | undefined> {
    return this.caller.callerRunOf(taskId);
  }

  completeFromCaller(
    run: Run,
    taskId: string,
    input: CompleteInput,
    holder: string,
    actor: string,
    signal?: AbortSignal,
  ): Promise<{ next?: CallerNode; run: Run; done: Awaited<ReturnType<TaskService['complete']>> }> {
    return this.caller.completeFromCaller(run, taskId, input, holder, actor, signal);
  }

  close(): Promise<void> {
    return this.driver.close();
  }
}
