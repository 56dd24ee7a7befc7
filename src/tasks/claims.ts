/**
 * Claims: who is working on a task right now, across sessions and server processes on one state
 * folder. A claim is taken in one locked write (so exactly one holder gets it) with a lease the
 * holding process renews while it lives; a claim whose lease lapsed, or whose process on this
 * machine is gone (kill -9), is free again.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { Clock } from '../core/clock.js';
import type { DocumentStore } from '../storage/documentStore.js';

export interface Claim {
  task: string;
  /** `<owner>#<holder>`: the process owner, then the session or run holding it. */
  holder: string;
  /** Who, for people: the actor or the run. */
  label: string;
  claimed_at: string;
  expires_at: number;
}

export interface ClaimDoc {
  claims: Record<string, Claim>;
}

export const EMPTY_CLAIMS: ClaimDoc = { claims: {} };

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

export type ClaimOutcome = { ok: true; claim: Claim; renewed: boolean } | { ok: false; claim: Claim };

export class ClaimBook {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly doc: DocumentStore<ClaimDoc>,
    private readonly clock: Clock,
    /** This process (every holder of this process starts with it). */
    readonly owner: string,
    private readonly ttlMs = CLAIM_TTL_MS,
  ) {}

  /** The holder id for a session or run of this process. */
  holder(name: string): string {
    return `${this.owner}#${name}`;
  }

  /** Claims `task` for `holder` unless another live holder has it. */
  async claim(task: string, holder: string, label: string): Promise<ClaimOutcome> {
    return this.doc.update((d): ClaimOutcome => {
      const now = this.clock.now();
      const current = d.claims[task];
      if (current && current.holder !== holder && leaseLive(current, now))
        return { ok: false, claim: current };
      const claim: Claim = {
        task,
        holder,
        label,
        claimed_at: current?.holder === holder ? current.claimed_at : new Date(now).toISOString(),
        expires_at: now + this.ttlMs,
      };
      d.claims[task] = claim;
      return { ok: true, claim, renewed: current?.holder === holder };
    });
  }

  /** The live claim on `task`, if any. */
  async holderOf(task: string): Promise<Claim | undefined> {
    const now = this.clock.now();
    return this.doc.read((d) => {
      const c = d.claims[task];
      return c && leaseLive(c, now) ? structuredClone(c) : undefined;
    });
  }

  /** Releases `task` if `holder` has it (anyone may release a lapsed claim). */
  async release(task: string, holder?: string): Promise<void> {
    const held = await this.doc.read((d) => d.claims[task]?.holder);
    if (held === undefined || (holder !== undefined && held !== holder)) return;
    await this.doc.update((d) => {
      if (holder === undefined || d.claims[task]?.holder === holder) delete d.claims[task];
    });
  }

  /** Renews every claim of this process and drops lapsed ones. */
  async renew(): Promise<void> {
    const mine = await this.doc.read((d) =>
      Object.values(d.claims).some((c) => c.holder.startsWith(`${this.owner}#`)),
    );
    const now = this.clock.now();
    const stale = await this.doc.read((d) => Object.values(d.claims).some((c) => !leaseLive(c, now)));
    if (!mine && !stale) return;
    await this.doc.update((d) => {
      for (const [task, c] of Object.entries(d.claims)) {
        if (c.holder.startsWith(`${this.owner}#`)) c.expires_at = now + this.ttlMs;
        else if (!leaseLive(c, now)) delete d.claims[task];
      }
    });
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
