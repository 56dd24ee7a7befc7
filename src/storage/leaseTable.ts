/**
 * Leases: who holds a key (a task) right now, with an expiry the holder renews. In the state folder
 * they are one document updated under its file lock; on the database (postgres/pgStorage.ts) one
 * row per key, taken with `SELECT ... FOR UPDATE SKIP LOCKED` so that servers taking different
 * keys never wait on each other and a key another server is taking at this moment is left to it.
 */
import type { DocumentStore } from './documentStore.js';

export interface Lease {
  key: string;
  /** Who holds it (the caller's own id; a prefix names a process, see `renew`). */
  holder: string;
  /** Who, for people. */
  label: string;
  claimed_at: string;
  /** Milliseconds since the epoch. */
  expires_at: number;
}

/**
 * `lease` is the holder that kept the key; undefined when another process was taking it at that
 * very moment (skipped, not waited for).
 */
export type LeaseOutcome = { ok: true; lease: Lease; renewed: boolean } | { ok: false; lease?: Lease };

export interface LeaseRules {
  now: number;
  ttlMs: number;
  /** Whether a stored lease still binds (not expired, its process not known dead). */
  live: (lease: Lease, now: number) => boolean;
}

export interface LeaseTable {
  /**
   * Takes each key for `holder` unless another live holder has it; one transaction for all.
   * `skipBusy`: a key another process is taking right now is reported (`ok: false`, no lease)
   * rather than waited for.
   */
  take(
    keys: readonly string[],
    holder: string,
    label: string,
    rules: LeaseRules & { skipBusy?: boolean },
  ): Promise<LeaseOutcome[]>;
  /** The stored lease of `key` (live or not), if any. */
  get(key: string): Promise<Lease | undefined>;
  /** Frees `key` if `holder` has it (any holder when undefined). */
  release(key: string, holder?: string): Promise<void>;
  /** Extends the leases whose holder starts with `prefix` and drops those that no longer bind. */
  renew(prefix: string, rules: LeaseRules): Promise<void>;
}

/** Decides one key: the lease to store, or the holder that keeps it. */
export function decideLease(
  key: string,
  current: Lease | undefined,
  holder: string,
  label: string,
  rules: LeaseRules,
): LeaseOutcome {
  if (current && current.holder !== holder && rules.live(current, rules.now))
    return { ok: false, lease: current };
  const mine = current?.holder === holder;
  return {
    ok: true,
    renewed: mine,
    lease: {
      key,
      holder,
      label,
      claimed_at: mine ? current.claimed_at : new Date(rules.now).toISOString(),
      expires_at: rules.now + rules.ttlMs,
    },
  };
}

export interface LeaseDoc {
  leases: Record<string, Lease>;
}

/** Reads a lease document, also in the shape claims.json had before (`{ claims: { task: ... } }`). */
export function parseLeaseDoc(raw: unknown): LeaseDoc {
  const r = (raw ?? {}) as {
    leases?: Record<string, Lease>;
    claims?: Record<string, Lease & { task?: string }>;
  };
  if (r.leases && typeof r.leases === 'object') return { leases: r.leases };
  const leases: Record<string, Lease> = {};
  for (const [key, c] of Object.entries(r.claims ?? {}))
    leases[key] = {
      key,
      holder: c.holder,
      label: c.label,
      claimed_at: c.claimed_at,
      expires_at: c.expires_at,
    };
  return { leases };
}

/** Leases in one document of the state folder (its file lock makes each call one holder's). */
export function documentLeaseTable(doc: DocumentStore<LeaseDoc>): LeaseTable {
  return {
    take: (keys, holder, label, rules) =>
      doc.update((d) =>
        keys.map((key) => {
          const outcome = decideLease(key, d.leases[key], holder, label, rules);
          if (outcome.ok) d.leases[key] = outcome.lease;
          return outcome;
        }),
      ),
    get: (key) => doc.read((d) => (d.leases[key] ? structuredClone(d.leases[key]) : undefined)),
    async release(key, holder) {
      const held = await doc.read((d) => d.leases[key]?.holder);
      if (held === undefined || (holder !== undefined && held !== holder)) return;
      await doc.update((d) => {
        if (holder === undefined || d.leases[key]?.holder === holder) delete d.leases[key];
      });
    },
    async renew(prefix, rules) {
      const due = await doc.read((d) =>
        Object.values(d.leases).some((l) => l.holder.startsWith(prefix) || !rules.live(l, rules.now)),
      );
      if (!due) return;
      await doc.update((d) => {
        for (const [key, l] of Object.entries(d.leases)) {
          if (l.holder.startsWith(prefix)) l.expires_at = rules.now + rules.ttlMs;
          else if (!rules.live(l, rules.now)) delete d.leases[key];
        }
      });
    },
  };
}
