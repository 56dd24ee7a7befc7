/**
 * One circuit breaker (opossum) per provider+model. A breaker opens after `failureThreshold`
 * counted failures within `windowMs`, however many calls succeeded around them (we count; opossum's
 * own rule is a percentage of calls, which took 6 failures after 5 successes), fails fast while
 * open, lets one trial call through
 * after `resetTimeoutMs` (half-open), and closes when it succeeds. Failures the caller marks as
 * not the provider's fault (bad requests, auth, cancellations) do not count. State is persisted
 * so a restarted server does not hammer a provider that was down.
 */
import CircuitBreaker from 'opossum';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { DocumentStore } from '../storage/documentStore.js';

export type Verdict = 'ok' | 'failure' | 'ignored';

export interface BreakerOptions {
  /** Counted failures in the window that open the breaker. Default 3. */
  failureThreshold?: number;
  /** Open -> half-open after this long. Default 30000. */
  resetTimeoutMs?: number;
  /** Rolling window for counting. Default 60000. */
  windowMs?: number;
}

export interface PersistedBreaker {
  state: {
    closed: boolean;
    halfOpen: boolean;
    open: boolean;
    lastTimerAt?: number;
    name: string;
    enabled: boolean;
    warmUp: boolean;
    shutdown: boolean;
  };
  opened_at?: number;
  last_error?: string;
}

export interface BreakerDoc {
  breakers: Record<string, PersistedBreaker>;
}

export interface BreakerStatus {
  key: string;
  state: 'closed' | 'open' | 'half_open';
  fires: number;
  failures: number;
  successes: number;
  rejects: number;
  last_error?: string;
  opened_at?: string;
  next_half_open_at?: string;
}

export type Guarded<T> = { kind: 'done'; value: T } | { kind: 'open'; key: string; retry_at?: string };

/** Carries a result through opossum, which only counts throws as failures. */
class Verdicted<T> extends Error {
  constructor(
    readonly value: T,
    readonly verdict: Verdict,
  ) {
    super(`verdict: ${verdict}`);
  }
}

export class BreakerRegistry {
  private readonly breakers = new Map<string, CircuitBreaker<[() => Promise<unknown>], unknown>>();
  private readonly meta = new Map<string, { opened_at?: number; last_error?: string }>();
  /** Times of counted failures per breaker, within the window. */
  private readonly recentFailures = new Map<string, number[]>();
  private persisted: BreakerDoc = { breakers: {} };
  private readonly threshold: number;
  private readonly resetTimeoutMs: number;
  private readonly windowMs: number;

  constructor(
    private readonly store: DocumentStore<BreakerDoc>,
    private readonly clock: Clock,
    private readonly logger: Logger,
    options: BreakerOptions = {},
  ) {
    this.threshold = options.failureThreshold ?? 3;
    this.resetTimeoutMs = options.resetTimeoutMs ?? 30_000;
    this.windowMs = options.windowMs ?? 60_000;
  }

  /** Loads persisted states (call once before use). */
  async load(): Promise<void> {
    this.persisted = await this.store.read((doc) => structuredClone(doc));
  }

  private breaker(key: string): CircuitBreaker<[() => Promise<unknown>], unknown> {
    let breaker = this.breakers.get(key);
    if (breaker) return breaker;
    const saved = this.persisted.breakers[key];
    breaker = new CircuitBreaker(
      async (run: () => Promise<unknown>) => {
        const value = (await run()) as { verdict: Verdict; value: unknown };
        if (value.verdict !== 'ok') throw new Verdicted(value.value, value.verdict);
        return value.value;
      },
      {
        name: key,
        // Our calls carry their own AbortSignal deadline; opossum's timeout would not cancel them.
        timeout: false,
        resetTimeout: this.resetTimeoutMs,
        rollingCountTimeout: this.windowMs,
        rollingCountBuckets: 10,
        // Opening is decided by our count of failures in the window (see 'failure' below);
        // opossum's percentage rule is kept out of the way.
        volumeThreshold: Number.MAX_SAFE_INTEGER,
        errorThresholdPercentage: 100,
        errorFilter: (error: unknown) => error instanceof Verdicted && error.verdict === 'ignored',
        ...(saved ? { state: saved.state } : {}),
      },
    );
    this.meta.set(key, {
      ...(saved?.opened_at ? { opened_at: saved.opened_at } : {}),
      ...(saved?.last_error ? { last_error: saved.last_error } : {}),
    });
    breaker.on('failure', (error: unknown) => {
      const m = this.meta.get(key)!;
      m.last_error = error instanceof Verdicted ? JSON.stringify(error.value).slice(0, 300) : String(error);
      const now = this.clock.now();
      const recent = (this.recentFailures.get(key) ?? []).filter((t) => t > now - this.windowMs);
      recent.push(now);
      this.recentFailures.set(key, recent);
      const b = this.breakers.get(key);
      if (b && b.closed && recent.length >= this.threshold) {
        this.recentFailures.set(key, []);
        b.open();
      }
    });
    breaker.on('open', () => {
      this.meta.get(key)!.opened_at = this.clock.now();
      this.logger.warn('circuit opened', { breaker: key, last_error: this.meta.get(key)?.last_error });
      this.save(key);
    });
    breaker.on('halfOpen', () => this.save(key));
    breaker.on('close', () => {
      delete this.meta.get(key)!.opened_at;
      this.logger.info('circuit closed', { breaker: key });
      this.save(key);
    });
    this.breakers.set(key, breaker);
    return breaker;
  }

  private save(key: string): void {
    const breaker = this.breakers.get(key);
    if (!breaker) return;
    const entry: PersistedBreaker = {
      state: breaker.toJSON().state as unknown as PersistedBreaker['state'],
      ...this.meta.get(key),
    };
    this.store
      .update((doc) => {
        doc.breakers[key] = entry;
      })
      .catch((error: unknown) =>
        this.logger.error('could not persist breaker state', { breaker: key, error }),
      );
  }

  /**
   * Runs `run` through the breaker for `key`. `judge` says whether the result counts as a failure
   * (or is ignored: the caller's fault, not the provider's). An open breaker answers without calling.
   */
  async call<T>(key: string, run: () => Promise<T>, judge: (value: T) => Verdict): Promise<Guarded<T>> {
    const breaker = this.breaker(key);
    try {
      const value = (await breaker.fire(async () => {
        const v = await run();
        return { verdict: judge(v), value: v };
      })) as T;
      return { kind: 'done', value };
    } catch (error) {
      if (error instanceof Verdicted) return { kind: 'done', value: error.value as T };
      if ((error as { code?: string }).code === 'EOPENBREAKER') {
        const next = this.nextHalfOpen(key);
        return { kind: 'open', key, ...(next ? { retry_at: new Date(next).toISOString() } : {}) };
      }
      throw error;
    }
  }

  /** Whether a call would be let through now (closed, or the half-open trial). No I/O. */
  admits(key: string): boolean {
    const b = this.breaker(key);
    return b.closed || b.pendingClose;
  }

  private nextHalfOpen(key: string): number | undefined {
    const openedAt = this.meta.get(key)?.opened_at;
    return openedAt === undefined ? undefined : openedAt + this.resetTimeoutMs;
  }

  /** The state of one breaker, without building the whole snapshot. */
  stateOf(key: string): BreakerStatus['state'] | undefined {
    const b = this.breakers.get(key);
    if (!b) return undefined;
    return b.halfOpen ? 'half_open' : b.opened ? 'open' : 'closed';
  }

  snapshot(): BreakerStatus[] {
    const keys = new Set([...Object.keys(this.persisted.breakers), ...this.breakers.keys()]);
    return [...keys].sort().map((key) => {
      const b = this.breakers.get(key);
      const saved = this.persisted.breakers[key];
      const meta = this.meta.get(key) ?? saved ?? {};
      const state = b
        ? b.halfOpen
          ? 'half_open'
          : b.opened
            ? 'open'
            : 'closed'
        : saved?.state.halfOpen
          ? 'half_open'
          : saved?.state.closed === false
            ? 'open'
            : 'closed';
      const stats = b?.stats;
      const next =
        state === 'open'
          ? (this.nextHalfOpen(key) ?? (saved?.opened_at ? saved.opened_at + this.resetTimeoutMs : undefined))
          : undefined;
      return {
        key,
        state,
        fires: stats?.fires ?? 0,
        failures: stats?.failures ?? 0,
        successes: stats?.successes ?? 0,
        rejects: stats?.rejects ?? 0,
        ...(meta.last_error ? { last_error: meta.last_error } : {}),
        ...(meta.opened_at ? { opened_at: new Date(meta.opened_at).toISOString() } : {}),
        ...(next ? { next_half_open_at: new Date(next).toISOString() } : {}),
      };
    });
  }

  /** Stops timers (for shutdown and tests). */
  shutdown(): void {
    for (const b of this.breakers.values()) b.shutdown();
  }
}
