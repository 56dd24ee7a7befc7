/**
 * Claims: who is working on a task right now, across sessions and server processes (on one state
 * folder, or one database). A claim is a lease (storage/leaseTable.ts) taken in one locked write
 * (so exactly one holder gets it) that the holding process renews while it lives; a claim whose
 * lease lapsed, or whose process on this machine is gone (kill -9), is free again.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { Clock } from '../core/clock.js';
import type { Lease, LeaseOutcome, LeaseTable } from '../storage/leaseTable.js';

export interface Claim {
  task: string;
  /** `<owner>#<holder>`: the process owner, then the session or run holding it. */
  holder: string;
  /** Who, for people: the actor or the run. */
  label: string;
  claimed_at: string;
  expires_at: number;
}

/** How long a claim lives without renewal. */
const CLAIM_TTL_MS = 30_000;

/** `host:pid:random` of this process. */
export function processOwner(): string {
  return `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
}

/** Whether the process named by an owner id is gone (only knowable on this machine). */
function ownerIsDead(owner: string): boolean {
  const [host, pid] = owner.split(':');
  if (host !== os.hostname() || !pid || !/^\d+$/.test(pid)) return false;
  if (Number(pid) === process.pid) return false;
  try {
    process.kill(Number(pid), 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** A lease is live while not expired and its process is not known to be dead. */
export function leaseLive(
  lease: { owner?: string; holder?: string; expires_at: number },
  now: number,
): boolean {
  const owner = lease.owner ?? lease.holder?.split('#')[0] ?? '';
  return lease.expires_at > now && !ownerIsDead(owner);
}

/** `busy`: another process was taking the task at that very moment (left to it, not waited for). */
export type ClaimOutcome =
  { ok: true; claim: Claim; renewed: boolean } | { ok: false; claim: Claim; busy?: boolean };

const toClaim = (l: Lease): Claim => ({
  task: l.key,
  holder: l.holder,
  label: l.label,
  claimed_at: l.claimed_at,
  expires_at: l.expires_at,
});

export class ClaimBook {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly table: LeaseTable,
    private readonly clock: Clock,
    /** This process (every holder of this process starts with it). */
    readonly owner: string,
    private readonly ttlMs = CLAIM_TTL_MS,
  ) {}

  /** The holder id for a session or run of this process. */
  holder(name: string): string {
    return `${this.owner}#${name}`;
  }

  private rules() {
    return { now: this.clock.now(), ttlMs: this.ttlMs, live: leaseLive };
  }

  private outcome(o: LeaseOutcome, task: string, now: number): ClaimOutcome {
    if (o.ok) return { ok: true, claim: toClaim(o.lease), renewed: o.renewed };
    if (o.lease) return { ok: false, claim: toClaim(o.lease) };
    const at = new Date(now).toISOString();
    const claim = {
      task,
      holder: '',
      label: 'another process (claiming it now)',
      claimed_at: at,
      expires_at: now,
    };
    return { ok: false, claim, busy: true };
  }

  /** Claims `task` for `holder` unless another live holder has it (waits for one claiming it now). */
  async claim(task: string, holder: string, label: string): Promise<ClaimOutcome> {
    const rules = this.rules();
    const [o] = await this.table.take([task], holder, label, rules);
    return this.outcome(o!, task, rules.now);
  }

  /**
   * Claims whichever of `tasks` are free, in one transaction; a task another process is claiming
   * at this moment is left to it (`busy`) rather than waited for (SKIP LOCKED on the database).
   */
  async claimAll(tasks: readonly string[], holder: string, label: string): Promise<ClaimOutcome[]> {
    if (tasks.length === 0) return [];
    const rules = this.rules();
    const out = await this.table.take(tasks, holder, label, { ...rules, skipBusy: true });
    return out.map((o, i) => this.outcome(o, tasks[i]!, rules.now));
  }

  /** The live claim on `task`, if any. */
  async holderOf(task: string): Promise<Claim | undefined> {
    const now = this.clock.now();
    const l = await this.table.get(task);
    return l && leaseLive(l, now) ? toClaim(l) : undefined;
  }

  /** Releases `task` if `holder` has it (anyone may release a lapsed claim). */
  async release(task: string, holder?: string): Promise<void> {
    await this.table.release(task, holder);
  }

  /** Renews every claim of this process and drops lapsed ones. */
  async renew(): Promise<void> {
    await this.table.renew(`${this.owner}#`, this.rules());
  }

  /** Renews this process's claims every third of their lifetime (never keeps the process alive). */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.renew().catch(() => undefined), Math.max(1000, this.ttlMs / 3));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
