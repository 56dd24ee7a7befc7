/** The shared shape of one provider call: a deadline, caller cancellation, latency, errors as data. */
import { toProviderError } from './errors.js';
import type { LlmRequest, LlmResult, ProviderError, Usage } from './types.js';

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
export async function runTimed<T>(
  request: { timeoutMs: number; signal?: AbortSignal | undefined },
  call: (signal: AbortSignal) => Promise<T>,
): Promise<
  { ok: true; value: T; latency_ms: number } | { ok: false; error: ProviderError; latency_ms: number }
> {
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
    const value = await call(controller.signal);
    return { ok: true, value, latency_ms: Date.now() - started };
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

/** One generate call, timed and cancellable (see runTimed). */
export async function runCall(
  request: LlmRequest,
  call: (signal: AbortSignal) => Promise<CallOutcome>,
): Promise<LlmResult> {
  const r = await runTimed(request, call);
  return r.ok ? { ok: true, ...r.value, latency_ms: r.latency_ms } : r;
}

/** Throws a malformed-response error when a field the provider must send is missing. */
export function required<T>(value: T | undefined | null, what: string): T {
  if (value === undefined || value === null) throw new SyntaxError(`malformed response: no ${what}`);
  return value;
}

/** Vectors from an embeddings answer: one per text, every one a non-empty list of finite numbers of one length. */
export function vectorsOf(
  raw: ReadonlyArray<ArrayLike<number> | undefined>,
  expected: number,
): Float32Array[] {
  if (raw.length !== expected)
    throw new SyntaxError(`malformed response: ${raw.length} embeddings for ${expected} texts`);
  const out = raw.map((v, i) => {
    const values = required(v, `embedding ${i}`);
    const f = Float32Array.from(values);
    if (f.length === 0 || !f.every(Number.isFinite))
      throw new SyntaxError(`malformed response: embedding ${i} is not a list of numbers`);
    return f;
  });
  if (out.some((v) => v.length !== out[0]!.length))
    throw new SyntaxError('malformed response: embeddings of different lengths');
  return out;
}
