import { EventEmitter } from 'node:events';
/** The stored runs: reading, one locked write with its history note, status and progress events. */
import { isoTime } from '../../core/clock.js';
import { AppError } from '../../core/errors.js';
import { nodeCounts } from '../runModel.js';
import type { Run, RunStatus } from '../runModel.js';
import { LEASE_MS, RUN_HISTORY } from './types.js';
import type { SupervisorDeps, RunStatusEvent, RunEvent } from './types.js';

export class RunStore {
  /** `progress` (RunEvent) as nodes end, `status` (RunStatusEvent) when a run's status changes. */
  readonly events = new EventEmitter();
  constructor(private readonly deps: SupervisorDeps) {}

  now(): string {
    return isoTime(this.deps.clock);
  }

  get owner(): string {
    return this.deps.claims.owner;
  }

  runHolder(id: string): string {
    return this.deps.claims.holder(`run:${id}`);
  }

  /** @throws AppError NOT_FOUND */
  async get(id: string): Promise<Run> {
    const run = await this.deps.runs.read((d) => structuredClone(d.runs[id]));
    if (!run)
      throw new AppError('NOT_FOUND', `No run "${id}"`, {
        hint: 'tasks_run_status without run_id lists the runs',
      });
    return run;
  }

  async list(): Promise<Run[]> {
    return this.deps.runs.read((d) =>
      Object.values(structuredClone(d.runs)).sort((a, b) => b.created_at.localeCompare(a.created_at)),
    );
  }

  note(run: Run, text: string): void {
    run.history.push({ at: this.now(), text });
    if (run.history.length > RUN_HISTORY) run.history.splice(0, run.history.length - RUN_HISTORY);
    run.updated_at = this.now();
  }

  async update<R>(id: string, fn: (run: Run) => R): Promise<R> {
    let changed: RunStatus | undefined;
    const result = await this.deps.runs.update((d) => {
      const r = d.runs[id];
      if (!r) throw new AppError('NOT_FOUND', `No run "${id}"`);
      r.updated_at = this.now();
      const before = r.status;
      const out = fn(r);
      changed = r.status !== before ? r.status : undefined;
      return out;
    });
    if (changed) this.events.emit('status', { run: id, status: changed } satisfies RunStatusEvent);
    return result;
  }

  emit(run: Run, message: string): void {
    const counts = nodeCounts(run);
    const event: RunEvent = {
      run: run.id,
      done: counts.done + counts.skipped + counts.cancelled,
      total: run.order.length + 1,
      message,
    };
    this.events.emit('progress', event);
  }

  /** Marks nodes running under this process's claim, or back to waiting. */
  markClaimed(r: Run, tasks: readonly string[], running: boolean, now: number): void {
    for (const task of tasks) {
      const n = r.nodes[task]!;
      if (running) {
        n.state = 'running';
        n.claim = { holder: this.runHolder(r.id), expires_at: now + LEASE_MS };
        n.started_at ??= this.now();
      } else {
        n.state = 'waiting';
        n.claim = undefined;
      }
    }
  }

  /** Awaits the records of graded calls written in the background; a failure is logged. */
  async recorded(id: string, taskId: string, afterwards: Array<Promise<void>>): Promise<void> {
    for (const r of await Promise.allSettled(afterwards))
      if (r.status === 'rejected')
        this.deps.logger.error('run: could not record a graded call', {
          run: id,
          task: taskId,
          error: r.reason,
        });
  }
}
