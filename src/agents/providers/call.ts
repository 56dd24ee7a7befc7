/** The shared shape of one provider call: a deadline, caller cancellation, latency, errors as data. */
import { toProviderError } from './errors.js';
import type { LlmRequest, LlmResult, Usage } from './types.js';

export interface CallOutcome {
  text: string;
  usage: Usage;
  model: string;
  finish_reason?: string;
  cost_usd?: number;
}

/**
 * Runs `call` with one AbortSignal that fires on the caller's signal or after `timeoutMs`, so the
 * HTTP request itself is cancelled (a timeout that only stops waiting would leave it running).
 */
export async function runCall(
  request: LlmRequest,
  call: (signal: AbortSignal) => Promise<CallOutcome>,
): Promise<LlmResult> {
  const started = Date.now();
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new Error('timeout'));
  }, request.timeoutMs);
  const onAbort = () => controller.abort(request.signal?.reason);
  if (request.signal?.aborted) controller.abort(request.signal.reason);
  else request.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const outcome = await call(controller.signal);
    return { ok: true, ...outcome, latency_ms: Date.now() - started };
  } catch (error) {
    return {
      ok: false,
      error: toProviderError(error, timedOut, request.signal?.aborted === true),
      latency_ms: Date.now() - started,
    };
  } finally {
    clearTimeout(timer);
    request.signal?.removeEventListener('abort', onAbort);
  }
}

/** Throws a malformed-response error when a field the provider must send is missing. */
export function required<T>(value: T | undefined | null, what: string): T {
  if (value === undefined || value === null) throw new SyntaxError(`malformed response: no ${what}`);
  return value;
}
