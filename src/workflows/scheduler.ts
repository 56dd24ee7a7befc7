/**
 * A persistent scheduler: jobs (a command or an agent spawn) at a time, every interval, or on a
 * cron expression, kept in the state folder so they survive restarts. Several server processes
 * may share the folder; only the holder of a lease (renewed each tick, taken over when it
 * lapses) runs jobs, and a due run is claimed (its next time advanced) in the same locked write,
 * so each due run happens once. A job overdue after a restart runs once, then keeps its rhythm.
 * What a run does is injected (commands go through the classifier and allowlist there).
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { CronExpressionParser } from 'cron-parser';
import type { Clock } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { Logger } from '../core/logger.js';
import type { DocumentStore } from '../storage/documentStore.js';

export interface JobCommand {
  command: string;
  args: string[];
  cwd?: string | undefined;
  timeout_s?: number | undefined;
}

export interface JobSpawn {
  prompt: string;
  provider?: string | undefined;
  model?: string | undefined;
  archetype?: string | undefined;
}

export interface JobRun {
  /** The due time this run was claimed for (each is claimed once). */
  due?: string;
  at: string;
  status: string;
  ok: boolean;
  message: string;
  duration_ms: number;
  owner: string;
}

export interface Job {
  id: string;
  name: string;
  kind: 'command' | 'spawn';
  command?: JobCommand;
  spawn?: JobSpawn;
  when: { run_at?: string; every_s?: number; cron?: string };
  status: 'active' | 'done' | 'cancelled';
  next_run: string | null;
  created_by: string;
  created_at: string;
  run_count: number;
  runs: JobRun[];
}

export interface ScheduleDoc {
  jobs: Job[];
  lease?: { owner: string; expires_at: string };
}

export const EMPTY_SCHEDULE: ScheduleDoc = { jobs: [] };

const KEEP_RUNS = 20;
const LEASE_MS = 15_000;

/** "30s", "15m", "2h", "1d" -> seconds. */
export function parseEvery(text: string): number | undefined {
  const m = /^(\d+)\s*(s|m|h|d)$/.exec(text.trim());
  if (!m) return undefined;
  const s = Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as 's' | 'm' | 'h' | 'd'];
  return s >= 1 && s <= 366 * 86_400 ? s : undefined;
}

/** The next run after `afterMs`, or null when the job has no more runs. */
export function nextRun(when: Job['when'], afterMs: number, lastMs?: number): string | null {
  if (when.run_at) return lastMs === undefined ? when.run_at : null;
  if (when.every_s) {
    const step = when.every_s * 1000;
    if (lastMs === undefined) return new Date(afterMs + step).toISOString();
    // Keep the rhythm of the schedule; slots missed while no server ran are skipped.
    const missed = Math.max(0, Math.floor((afterMs - lastMs) / step));
    return new Date(lastMs + (missed + 1) * step).toISOString();
  }
  if (when.cron)
    return CronExpressionParser.parse(when.cron, { currentDate: new Date(afterMs), tz: 'UTC' })
      .next()
      .toDate()
      .toISOString();
  return null;
}

/** @throws AppError INVALID_INPUT for a bad cron expression. */
export function checkCron(expr: string): void {
  try {
    CronExpressionParser.parse(expr, { tz: 'UTC' });
  } catch (error) {
    throw new AppError('INVALID_INPUT', `Invalid cron expression "${expr}": ${(error as Error).message}`, {
      hint: 'Five fields, minute hour day-of-month month day-of-week (UTC), e.g. "*/15 * * * *"',
    });
  }
}

export type JobExecutor = (job: Job) => Promise<{ ok: boolean; status: string; message: string }>;

export class Scheduler {
  readonly owner = `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private readonly running = new Set<Promise<void>>();

  constructor(
    private readonly doc: DocumentStore<ScheduleDoc>,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly execute: JobExecutor,
    /** Active jobs that may exist at once (TASK_ORCHESTRATOR_MAX_SCHEDULED_JOBS). */
    private readonly maxActive = Number.POSITIVE_INFINITY,
  ) {}

  async add(
    job: Omit<Job, 'id' | 'status' | 'next_run' | 'created_at' | 'run_count' | 'runs'>,
  ): Promise<Job> {
    const now = this.clock.now();
    if (job.when.run_at && Date.parse(job.when.run_at) < now - 60_000)
      throw new AppError('INVALID_INPUT', `run_at ${job.when.run_at} is in the past`, {
        hint: 'Give a future time (ISO 8601)',
      });
    const full: Job = {
      ...job,
      id: newId('job'),
      status: 'active',
      next_run: nextRun(job.when, now),
      created_at: new Date(now).toISOString(),
      run_count: 0,
      runs: [],
    };
    await this.doc.update((d) => {
      const active = d.jobs.filter((j) => j.status === 'active').length;
      if (active >= this.maxActive)
        throw new AppError(
          'LIMIT_REACHED',
          `${active} scheduled jobs are active; the limit is ${this.maxActive} (TASK_ORCHESTRATOR_MAX_SCHEDULED_JOBS)`,
          {
            hint: 'Cancel jobs you no longer need (cancel_scheduled_task), or raise TASK_ORCHESTRATOR_MAX_SCHEDULED_JOBS',
          },
        );
      d.jobs.push(full);
    });
    return full;
  }

  async list(status?: Job['status']): Promise<Job[]> {
    return this.doc.read((d) => structuredClone(d.jobs.filter((j) => !status || j.status === status)));
  }

  /** @throws AppError NOT_FOUND, CONFLICT when it already ended. */
  async cancel(id: string): Promise<Job> {
    return this.doc.update((d) => {
      const job = d.jobs.find((j) => j.id === id);
      if (!job)
        throw new AppError('NOT_FOUND', `No scheduled task "${id}"`, {
          hint: 'list_scheduled_tasks shows them',
        });
      if (job.status !== 'active')
        throw new AppError('CONFLICT', `Scheduled task ${id} is already ${job.status}`);
      job.status = 'cancelled';
      job.next_run = null;
      return job;
    });
  }

  /**
   * One scheduling step: take or renew the lease, claim the due runs, start them. Returns the
   * jobs started (their runs finish in the background; `idle()` waits for them).
   */
  async tick(): Promise<string[]> {
    const nowMs = this.clock.now();
    const now = new Date(nowMs).toISOString();
    const claimed = await this.doc.update((d) => {
      if (d.lease && d.lease.owner !== this.owner && d.lease.expires_at > now) return [];
      d.lease = { owner: this.owner, expires_at: new Date(nowMs + LEASE_MS).toISOString() };
      const due: Job[] = [];
      for (const job of d.jobs) {
        if (job.status !== 'active' || !job.next_run || job.next_run > now) continue;
        due.push(structuredClone(job));
        job.next_run = nextRun(job.when, nowMs, Date.parse(job.next_run));
        if (job.next_run === null) job.status = 'done';
      }
      return due;
    });
    for (const job of claimed) {
      const p: Promise<void> = this.runOne(job).finally(() => this.running.delete(p));
      this.running.add(p);
    }
    return claimed.map((j) => j.id);
  }

  private async runOne(job: Job): Promise<void> {
    const started = this.clock.now();
    let outcome: { ok: boolean; status: string; message: string };
    try {
      outcome = await this.execute(job);
    } catch (error) {
      outcome = {
        ok: false,
        status: 'error',
        message: error instanceof Error ? error.message : String(error),
      };
    }
    const run: JobRun = {
      ...(job.next_run ? { due: job.next_run } : {}),
      at: new Date(started).toISOString(),
      ...outcome,
      duration_ms: this.clock.now() - started,
      owner: this.owner,
    };
    await this.doc
      .update((d) => {
        const j = d.jobs.find((x) => x.id === job.id);
        if (!j) return;
        j.run_count++;
        j.runs.push(run);
        if (j.runs.length > KEEP_RUNS) j.runs.splice(0, j.runs.length - KEEP_RUNS);
      })
      .catch((error: unknown) => this.logger.warn('scheduled run not recorded', { job: job.id, error }));
  }

  start(tickMs = 1_000): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (this.ticking) return;
      this.ticking = this.tick()
        .then(() => undefined)
        .catch((error: unknown) => this.logger.warn('scheduler tick failed', { error }))
        .finally(() => (this.ticking = undefined));
    }, tickMs);
    this.timer.unref();
  }

  /** Stops ticking, lets runs in flight finish, and gives up the lease. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.ticking;
    await this.idle();
    await this.doc
      .update((d) => {
        if (d.lease?.owner === this.owner) delete d.lease;
      })
      .catch(() => undefined);
  }

  async idle(): Promise<void> {
    while (this.running.size) await Promise.all([...this.running]);
  }
}
