/** Driving a run in this process: its lease, the loop that fills the slots, what happens when nothing runs, taking over orphaned runs, waiting, cancelling. */
import { AppError } from '../../core/errors.js';
import { leaseLive } from '../../tasks/claims.js';
import { CLOSED_NODE, ENDED_RUN, readyNodes, skipUnreachable } from '../runModel.js';
import type { Run, RunNode, RunStatus } from '../runModel.js';
import type { RunStore } from './runStore.js';
import type { FailurePolicy } from './failurePolicy.js';
import type { Leader } from './leader.js';
import type { NodeRunner } from './nodeRunner.js';
import { LEASE_MS, sleep } from './types.js';
import type { SupervisorDeps, WaitOutcome, RunStatusEvent } from './types.js';
import type { Slots } from './activeRun.js';
import { ActiveRun } from './activeRun.js';

export class Driver {
  private leaseTimer: NodeJS.Timeout | undefined;
  private adoptTimer: NodeJS.Timeout | undefined;
  constructor(
    readonly deps: SupervisorDeps,
    private readonly store: RunStore,
    private readonly failure: FailurePolicy,
    private readonly leader: Leader,
    private readonly nodes: NodeRunner,
    private readonly active: Map<string, ActiveRun>,
  ) {}

  /**
   * Waits until the run needs a person (a blocked node, its budget), ends, or `ms` pass, whichever
   * comes first, and says which.
   */
  async wait(id: string, ms: number): Promise<WaitOutcome> {
    const outcome = (status: RunStatus): WaitOutcome | undefined =>
      ENDED_RUN.has(status)
        ? 'ended'
        : status === 'waiting_for_human' || status === 'budget_exhausted'
          ? 'needs_person'
          : undefined;
    let stop: (value: WaitOutcome) => void = () => undefined;
    const heard = new Promise<WaitOutcome>((resolve) => (stop = resolve));
    const onStatus = (e: RunStatusEvent) => {
      const o = e.run === id ? outcome(e.status) : undefined;
      if (o) stop(o);
    };
    this.store.events.on('status', onStatus);
    const timer = new AbortController();
    try {
      const now = outcome((await this.store.get(id)).status);
      if (now) return now;
      const a = this.active.get(id);
      const ended = a?.ended.then(async () => outcome((await this.store.get(id)).status) ?? 'wait_s');
      return await Promise.race([
        heard,
        ...(ended ? [ended] : []),
        sleep(ms, timer.signal).then(() => 'wait_s' as const),
      ]);
    } finally {
      timer.abort();
      this.store.events.off('status', onStatus);
    }
  }

  /**
   * Drives an agents-mode run in this process (after a restart: resumes it).
   * @throws AppError CONFLICT while another live process holds the run.
   */
  async resume(id: string, actor: string): Promise<Run> {
    const run = await this.store.get(id);
    if (ENDED_RUN.has(run.status))
      throw new AppError('CONFLICT', `Run ${id} is ${run.status}`, {
        hint: 'Start a new run with tasks_run {root}',
      });
    if (run.status === 'budget_exhausted') {
      const active = this.active.get(id);
      if (active) active.budgetStop = false;
      await this.store.update(id, (r) => {
        r.status = 'running';
        this.store.note(r, `resumed by ${actor} after the budget stop`);
      });
    }
    if (run.options.mode === 'agents' && !this.active.has(id)) await this.drive(id, actor);
    return this.store.get(id);
  }

  async drive(id: string, actor: string): Promise<void> {
    const holder = this.store.owner;
    await this.deps.runs.update((d) => {
      const r = d.runs[id];
      if (!r) throw new AppError('NOT_FOUND', `No run "${id}"`);
      const now = this.deps.clock.now();
      if (r.lease && r.lease.owner !== holder && leaseLive(r.lease, now))
        throw new AppError(
          'CONFLICT',
          `Run ${id} is being run by another server process (${r.lease.owner})`,
          {
            hint: `Its lease runs until ${new Date(r.lease.expires_at).toISOString()}; if that process died, resume after that`,
          },
        );
      const taken = r.lease && r.lease.owner !== holder;
      r.lease = { owner: holder, expires_at: now + LEASE_MS };
      if (taken || r.history.length > 1) this.store.note(r, `driven by ${holder} for ${actor}`);
    });
    const active = new ActiveRun();
    this.active.set(id, active);
    active.ended = this.loop(id, active).catch((error: unknown) =>
      this.deps.logger.error('run loop failed', { run: id, error }),
    );
    active.done = active.ended.finally(async () => {
      if (this.active.get(id) === active) this.active.delete(id);
      await this.deps.runs
        .update((d) => {
          const r = d.runs[id];
          if (r?.lease?.owner === holder) r.lease = undefined;
        })
        .catch(() => undefined);
    });
    this.startLeaseTimer();
  }

  /**
   * Takes over the unfinished agents-mode runs of this state folder that nobody drives (their
   * process ended or their lease ran out): finished nodes stay finished, recorded answers are not
   * asked again. A run waiting for a person is driven too, so that the decision moves it on.
   */
  async adoptOrphans(): Promise<string[]> {
    const now = this.deps.clock.now();
    const orphans = await this.deps.runs.read((d) =>
      Object.values(d.runs)
        .filter(
          (r) =>
            r.options.mode === 'agents' &&
            (r.status === 'running' || r.status === 'waiting_for_human') &&
            !this.active.has(r.id) &&
            !(r.lease && leaseLive(r.lease, now)),
        )
        .map((r) => r.id),
    );
    const taken: string[] = [];
    for (const id of orphans) {
      try {
        await this.drive(id, 'auto-resume');
        taken.push(id);
      } catch (error) {
        // Another process took it first.
        if (!(error instanceof AppError && error.code === 'CONFLICT'))
          this.deps.logger.warn('run: could not take over an unfinished run', { run: id, error });
      }
    }
    if (taken.length) this.deps.logger.info('run: took over unfinished runs', { runs: taken });
    return taken;
  }

  /** Adopts orphaned runs now and whenever a lease may have run out (every lease period). */
  startAutoResume(): void {
    if (this.adoptTimer) return;
    const adopt = () => void this.adoptOrphans().catch(() => undefined);
    adopt();
    this.adoptTimer = setInterval(adopt, LEASE_MS);
    this.adoptTimer.unref();
  }

  private startLeaseTimer(): void {
    if (this.leaseTimer) return;
    this.leaseTimer = setInterval(() => {
      if (this.active.size === 0) return;
      const ids = [...this.active.keys()];
      void this.deps.runs
        .update((d) => {
          const now = this.deps.clock.now();
          for (const id of ids) {
            const r = d.runs[id];
            if (r?.lease?.owner === this.store.owner) r.lease.expires_at = now + LEASE_MS;
          }
        })
        .catch(() => undefined);
    }, LEASE_MS / 3);
    this.leaseTimer.unref();
  }

  private async loop(id: string, active: ActiveRun): Promise<void> {
    const signal = active.controller.signal;
    const inflight = new Map<string, Promise<void>>();
    // Woken whenever a node ends, also one that ends while this loop is busy claiming others.
    let wake: () => void = () => undefined;
    let concurrency = 1;
    let reserved = 0;
    const launch = (task: string) => {
      reserved--;
      const p = this.nodes
        .execNode(id, task, signal)
        .catch((error: unknown) => this.deps.logger.error('run node failed', { run: id, task, error }))
        .finally(() => {
          inflight.delete(task);
          wake();
        });
      inflight.set(task, p);
    };
    const judging = new Set<string>();
    const slots: Slots = {
      take: (n, own = false) => {
        const busy = inflight.size - judging.size;
        const k = Math.max(0, Math.min(n, concurrency - busy - reserved + (own ? 1 : 0)));
        reserved += k;
        return k;
      },
      give: (k) => {
        reserved -= k;
      },
      launch,
      judging: (task, on) => {
        if (!on) judging.delete(task);
        else if (inflight.has(task)) {
          judging.add(task);
          wake();
        }
      },
    };
    active.slots = slots;
    const pollMs = this.deps.pollMs ?? 500;
    try {
      while (!signal.aborted) {
        const woken = new Promise<void>((resolve) => (wake = resolve));
        const run = await this.deps.runs.read((d) => d.runs[id]);
        if (run) concurrency = run.options.concurrency;
        if (!run || run.status === 'cancelled' || run.lease?.owner !== this.store.owner) {
          active.controller.abort();
          break;
        }
        await this.failure.applyDecisions(id);
        if (!active.budgetStop) {
          // Slots are reserved only for nodes found ready, so a dependent started early on an
          // answer being judged (nodeRunner.speculate) is not kept out by a pass that finds nothing.
          const claimed = await this.claimReady(id, slots, new Set(inflight.keys()));
          for (const task of claimed) slots.launch(task);
        }
        if (inflight.size === 0) {
          const next = await this.settle(id, signal);
          if (next === 'finished') break;
          if (next === 'wait') await sleep(pollMs, signal);
          continue;
        }
        await Promise.race([woken, sleep(1000, signal)]);
      }
    } finally {
      active.slots = undefined;
    }
    await Promise.allSettled([...inflight.values()]);
  }

  /** Claims up to `capacity` ready nodes for this process (each exactly once across processes). */
  private async claimReady(id: string, slots: Slots, mine: ReadonlySet<string>): Promise<string[]> {
    const now = this.deps.clock.now();
    const found = await this.deps.runs.read((d) => {
      const r = d.runs[id]!;
      const stale = r.order.filter((t) => {
        const n = r.nodes[t]!;
        return n.state === 'running' && !mine.has(t) && (!n.claim || !leaseLive(n.claim, now));
      });
      return [...stale, ...readyNodes(r).map((n) => n.task)];
    });
    const capacity = found.length ? slots.take(found.length) : 0;
    const candidates = found.slice(0, capacity);
    // Claimed in one write for all (a node another server is claiming at this moment is skipped)
    // while the run records them as running; a node someone else holds (a session's tasks_start)
    // goes back to waiting.
    const mark = (r: Run, tasks: readonly string[], running: boolean) =>
      this.store.markClaimed(r, tasks, running, now);
    if (candidates.length === 0) return [];
    let claimed: string[] = [];
    try {
      const [outcomes] = await Promise.all([
        this.deps.claims.claimAll(candidates, this.store.runHolder(id), `run ${id}`),
        this.store.update(id, (r) => mark(r, candidates, true)),
      ]);
      const refused = candidates.filter((_, i) => !outcomes[i]!.ok);
      if (refused.length > 0) await this.store.update(id, (r) => mark(r, refused, false));
      claimed = candidates.filter((_, i) => outcomes[i]!.ok);
      return claimed;
    } finally {
      // The slots of nodes not claimed go back (all of them if the claim failed).
      slots.give(capacity - claimed.length);
    }
  }

  /** Nothing runs here: finish (synthesis), wait for a human or another process, or stop on the budget. */
  private async settle(id: string, signal: AbortSignal): Promise<'finished' | 'wait' | 'continue'> {
    const now = this.deps.clock.now();
    // Written only when a node becomes unreachable (a write on the way to the synthesis costs).
    const seen = await this.store.get(id);
    let unreachable: RunNode[] = [];
    const run =
      skipUnreachable(structuredClone(seen)).length > 0
        ? await this.store.update(id, (r) => {
            unreachable = skipUnreachable(r);
            for (const n of unreachable) this.store.note(r, `${n.task} skipped: ${n.reason}`);
            return structuredClone(r);
          })
        : seen;
    // Their tasks close too (with the reason), so the root's synthesis is not held by open subtasks.
    for (const n of unreachable)
      await this.deps.tasks
        .transition(n.task, 'cancelled', `run ${id}: ${n.reason ?? 'skipped'}`, `run ${id}`)
        .catch(() => undefined);
    const nodes = run.order.map((t) => run.nodes[t]!);
    if (nodes.some((n) => n.state === 'running' && n.claim && leaseLive(n.claim, now))) return 'wait';
    if (readyNodes(run).length > 0 || nodes.some((n) => n.state === 'running')) {
      if (this.active.get(id)?.budgetStop) {
        await this.store.update(id, (r) => {
          r.status = 'budget_exhausted';
          this.store.note(
            r,
            `stopped: the run's budget ($${r.options.max_cost_usd}) cannot pay for another call; resume with tasks_run {resume} after raising it`,
          );
        });
        this.store.emit(run, 'budget exhausted');
        return 'finished';
      }
      return 'continue';
    }
    if (nodes.some((n) => n.state === 'blocked')) {
      if (run.status !== 'waiting_for_human')
        await this.store.update(id, (r) => {
          r.status = 'waiting_for_human';
          this.store.note(
            r,
            'waiting for a human decision in the inbox on blocked node(s); everything else is done',
          );
        });
      return 'wait';
    }
    if (run.status === 'waiting_for_human')
      await this.store.update(id, (r) => {
        r.status = 'running';
      });
    await this.leader.synthesize(id, signal);
    return 'finished';
  }

  /** Cancels a run: no node starts any more; calls in flight in this process are aborted. */
  async cancel(id: string, actor: string, reason: string): Promise<Run> {
    const run = await this.store.update(id, (r) => {
      if (ENDED_RUN.has(r.status)) throw new AppError('CONFLICT', `Run ${id} is already ${r.status}`);
      r.status = 'cancelled';
      r.finished_at = this.store.now();
      for (const t of r.order) {
        const n = r.nodes[t]!;
        if (!CLOSED_NODE.has(n.state)) {
          n.state = 'cancelled';
          n.claim = undefined;
          n.reason = `run cancelled by ${actor}`;
        }
      }
      this.store.note(r, `cancelled by ${actor}: ${reason}`);
      return structuredClone(r);
    });
    this.active.get(id)?.controller.abort();
    await this.active.get(id)?.done;
    for (const t of run.order) await this.deps.claims.release(t, this.store.runHolder(id));
    this.store.emit(run, 'cancelled');
    return this.store.get(id);
  }

  /** Stops local loops (their leases lapse; another process may resume). */
  async close(): Promise<void> {
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    if (this.adoptTimer) clearInterval(this.adoptTimer);
    this.leaseTimer = undefined;
    this.adoptTimer = undefined;
    const all = [...this.active.values()];
    for (const a of all) a.controller.abort();
    await Promise.allSettled(all.map((a) => a.done));
  }
}
