/** Maps what the SDKs throw to ProviderError values. */
import type { ProviderError, ProviderErrorCode } from './types.js';

function codeForStatus(status: number): ProviderErrorCode {
  if (status === 408) return 'timeout';
  if (status === 429) return 'rate_limited';
  if (status === 401 || status === 403) return 'auth';
  if (status === 404) return 'not_found';
  if (status >= 500) return 'server_error';
  if (status >= 400) return 'bad_request';
  return 'unknown';
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date. */
function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function header(headers: unknown, name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const record = headers as Record<string, string | undefined>;
  return record[name] ?? record[name.toLowerCase()];
}

/**
 * Classifies an error thrown by an SDK call. `timedOut` tells a deadline abort from a caller abort,
 * which SDKs report the same way.
 */
export function toProviderError(error: unknown, timedOut: boolean, callerAborted: boolean): ProviderError {
  if (timedOut) return { code: 'timeout', message: 'the call timed out' };
  if (callerAborted) return { code: 'aborted', message: 'the call was cancelled' };
  const e = error as {
    status?: unknown;
    headers?: unknown;
    message?: unknown;
    name?: unknown;
    code?: unknown;
    cause?: unknown;
  };
  const message = typeof e?.message === 'string' ? e.message.slice(0, 500) : String(error).slice(0, 500);
  const status = typeof e?.status === 'number' ? e.status : undefined;
  if (status !== undefined && status > 0) {
    // A Retry-After header, or Gemini's google.rpc.RetryInfo in the error body ("retryDelay": "7s").
    const bodyDelay = /"retryDelay"\s*:\s*"(\d+(?:\.\d+)?)s"/.exec(message)?.[1];
    const retry =
      parseRetryAfter(header(e.headers, 'retry-after')) ??
      (bodyDelay ? Math.round(Number(bodyDelay) * 1000) : undefined);
    return {
      code: codeForStatus(status),
      message,
      status,
      ...(retry !== undefined ? { retry_after_ms: retry } : {}),
    };
  }
  const name = typeof e?.name === 'string' ? e.name : '';
  if (/timeout/i.test(name)) return { code: 'timeout', message };
  if (error instanceof SyntaxError || /JSON|Unexpected token|malformed|parse/i.test(message)) {
    return { code: 'malformed_response', message };
  }
  if (
    /Connection|ECONNREFUSED|ECONNRESET|fetch failed|network|socket/i.test(
      `${name} ${message} ${describeCause(e?.cause)}`,
    )
  ) {
    return { code: 'network', message };
  }
  return { code: 'unknown', message };
}

function describeCause(cause: unknown): string {
  if (cause instanceof Error)
    return `${cause.name} ${cause.message} ${(cause as { code?: string }).code ?? ''}`;
  return typeof cause === 'string' ? cause : '';
}
