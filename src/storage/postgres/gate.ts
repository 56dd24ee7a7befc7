/**
 * The breaker in front of the database (opossum). Calls that cannot reach the server (refused,
 * timed out, the server starting or shutting down) are counted; after `threshold` in a row the
 * breaker opens and calls fail at once with a message saying since when and when the next try is,
 * instead of each waiting for its own connection attempt. Only opening a connection goes through
 * it (every store call opens or takes one first). After the reset time one call goes
 * through (half-open): if it connects the breaker closes, else it opens again for twice as long
 * (backoff, up to `maxMs`). Errors of a reachable database (a constraint, a terminated session
 * whose next connection works) do not count: they are not about reaching it.
 */
import CircuitBreaker from 'opossum';
import { AppError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  // cannot_connect_now (starting up, shutting down), connection exceptions on connect
  '57P03',
  '08001',
  '08004',
  '08006',
]);

/** A connection could not be opened (whatever the reason: refused, timed out, cut during start-up). */
export class ConnectFailed extends Error {
  constructor(override readonly cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause));
    this.name = 'ConnectFailed';
  }
}

/** Whether `error` (or what it wraps) says the database could not be reached at all. */
export function isUnreachable(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 4; depth++) {
    if (e instanceof ConnectFailed) return true;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && UNREACHABLE_CODES.has(code)) return true;
    const message = e instanceof Error ? e.message : '';
    if (
      /timeout exceeded when trying to connect|due to connection timeout|connect ECONNREFUSED/i.test(message)
    )
      return true;
    // AggregateError (a host with several addresses) and our AppError keep the cause.
    const inner = e as { cause?: unknown; errors?: unknown[] };
    e = inner.errors?.[0] ?? inner.cause;
  }
  return false;
}

export interface GateStatus {
  state: 'closed' | 'open' | 'half_open';
  /** Unreachable calls in a row. */
  failures: number;
  last_error?: string;
  opened_at?: string;
  next_try_at?: string;
}

export interface GateOptions {
  logger: Logger;
  /** Unreachable calls in a row that open the breaker. Default 3. */
  threshold?: number;
  /** First open period; doubled after each failed try. Default 1000. */
  baseMs?: number;
  /** Longest open period. Default 30000. */
  maxMs?: number;
}

export class DatabaseGate {
  private readonly breaker: CircuitBreaker<[() => Promise<unknown>], unknown>;
  private streak = 0;
  private lastError: string | undefined;
  private openedAt: number | undefined;
  private nextTryAt: number | undefined;
  private readonly threshold: number;
  private readonly baseMs: number;
  private readonly maxMs: number;

  constructor(options: GateOptions) {
    this.threshold = options.threshold ?? 3;
    this.baseMs = options.baseMs ?? 1_000;
    this.maxMs = options.maxMs ?? 30_000;
    const { logger } = options;
    this.breaker = new CircuitBreaker((work: () => Promise<unknown>) => work(), {
      name: 'database',
      timeout: false,
      resetTimeout: this.baseMs,
      // Opening is decided by the count of unreachable calls in a row (below).
      volumeThreshold: Number.MAX_SAFE_INTEGER,
      errorThresholdPercentage: 100,
      errorFilter: (error: unknown) => !isUnreachable(error),
    });
    this.breaker.on('failure', (error: unknown) => {
      this.streak++;
      this.lastError =
        error instanceof AppError && error.cause instanceof Error
          ? error.cause.message
          : String((error as Error)?.message ?? error);
      if (this.streak >= this.threshold && !this.breaker.opened) this.breaker.open();
    });
    this.breaker.on('success', () => {
      this.streak = 0;
    });
    this.breaker.on('open', () => {
      this.openedAt ??= Date.now();
      this.nextTryAt = Date.now() + this.settings.resetTimeout;
      logger.warn('database: unreachable; calls fail at once until the next try', {
        failures: this.streak,
        error: this.lastError,
        next_try_in_ms: this.settings.resetTimeout,
      });
    });
    this.breaker.on('halfOpen', () => {
      // If this try fails, wait twice as long before the next.
      this.settings.resetTimeout = Math.min(this.settings.resetTimeout * 2, this.maxMs);
    });
    this.breaker.on('close', () => {
      if (this.openedAt !== undefined)
        logger.info('database: reachable again', { down_ms: Date.now() - this.openedAt });
      this.settings.resetTimeout = this.baseMs;
      this.openedAt = undefined;
      this.nextTryAt = undefined;
    });
  }

  /**
   * opossum's own options: it reads `resetTimeout` each time it opens, so changing it here is how
   * the pause doubles (its types do not declare the field).
   */
  private get settings(): { resetTimeout: number } {
    return (this.breaker as unknown as { options: { resetTimeout: number } }).options;
  }

  /** Runs `work` unless the breaker is open. */
  async run<R>(work: () => Promise<R>): Promise<R> {
    try {
      return (await this.breaker.fire(work)) as R;
    } catch (error) {
      if ((error as { code?: string }).code !== 'EOPENBREAKER') throw error;
      const since = new Date(this.openedAt ?? Date.now()).toISOString();
      const next = this.nextTryAt ? new Date(this.nextTryAt).toISOString() : 'shortly';
      throw new AppError(
        'PROVIDER_UNAVAILABLE',
        `The database has been unreachable since ${since} (${this.streak} connection attempt(s) in a row failed; last: ${this.lastError ?? 'unknown'}); calls fail at once until the next try at ${next}`,
        {
          hint: 'Check that PostgreSQL is running and TASK_ORCHESTRATOR_DATABASE_URL points at it (task-orchestrator doctor); nothing of this call was kept, retry after the time given',
        },
      );
    }
  }

  status(): GateStatus {
    const b = this.breaker;
    return {
      state: b.opened ? 'open' : b.halfOpen ? 'half_open' : 'closed',
      failures: this.streak,
      ...(this.lastError ? { last_error: this.lastError } : {}),
      ...(this.openedAt ? { opened_at: new Date(this.openedAt).toISOString() } : {}),
      ...(this.nextTryAt && b.opened ? { next_try_at: new Date(this.nextTryAt).toISOString() } : {}),
    };
  }

  shutdown(): void {
    this.breaker.shutdown();
  }
}
