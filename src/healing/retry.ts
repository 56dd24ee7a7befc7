/**
 * Retry with exponential backoff and jitter, honouring Retry-After, within an overall deadline.
 * The caller decides per result whether a retry makes sense (an open breaker or a budget refusal
 * never does).
 */

export interface RetryPolicy {
  /** First delay. Default 2000 ms. */
  baseMs: number;
  /** Largest delay. Default 60000 ms. */
  capMs: number;
  /** Retries after the first attempt. Default 5. */
  maxRetries: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { baseMs: 2_000, capMs: 60_000, maxRetries: 5 };

/** Delay before retry number `retry` (1-based): full jitter over base*2^(retry-1), capped; Retry-After wins when longer. */
export function backoffDelay(
  retry: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
  retryAfterMs?: number,
): number {
  const exp = Math.min(policy.capMs, policy.baseMs * 2 ** (retry - 1));
  const jittered = Math.round(exp / 2 + random() * (exp / 2));
  return Math.min(policy.capMs, Math.max(jittered, retryAfterMs ?? 0));
}

export interface RetryDecision {
  retry: boolean;
  retryAfterMs?: number;
}

export interface RetryOptions {
  policy?: RetryPolicy;
  /** Absolute time (ms) after which no new attempt starts. */
  deadline: number;
  now: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  signal?: AbortSignal;
  random?: () => number;
}

export interface RetryOutcome<T> {
  value: T;
  attempts: number;
  /** Why retrying stopped while the last result still wanted one. */
  gave_up?: 'max_retries' | 'deadline' | 'aborted';
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

export async function withRetry<T>(
  attempt: (n: number) => Promise<T>,
  decide: (value: T) => RetryDecision,
  options: RetryOptions,
): Promise<RetryOutcome<T>> {
  const policy = options.policy ?? DEFAULT_RETRY_POLICY;
  const wait = options.sleep ?? sleep;
  let n = 1;
  for (;;) {
    const value = await attempt(n);
    const d = decide(value);
    if (!d.retry) return { value, attempts: n };
    if (n > policy.maxRetries) return { value, attempts: n, gave_up: 'max_retries' };
    if (options.signal?.aborted) return { value, attempts: n, gave_up: 'aborted' };
    const delay = backoffDelay(n, policy, options.random, d.retryAfterMs);
    if (options.now() + delay >= options.deadline) return { value, attempts: n, gave_up: 'deadline' };
    await wait(delay, options.signal);
    if (options.signal?.aborted) return { value, attempts: n, gave_up: 'aborted' };
    n++;
  }
}
