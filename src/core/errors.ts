/**
 * Stable string codes for every failure the server reports. Callers branch on `code`, never on
 * message text; messages are for people and always say what to do next.
 */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'INVALID_INPUT'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'FORBIDDEN'
  | 'GATE_FAILED'
  | 'LIMIT_REACHED'
  | 'UNKNOWN_CATEGORY'
  | 'STORAGE_LOCKED'
  | 'STORAGE_CORRUPT'
  | 'STORAGE_CLOSED'
  | 'RESULT_TOO_LARGE'
  | 'BUDGET_EXCEEDED'
  | 'PROVIDER_UNAVAILABLE'
  | 'NO_PROVIDER'
  | 'IMMUNE_BLOCKED'
  | 'PLAN_INVALID'
  | 'INTERNAL';

export interface AppErrorOptions {
  /** What the caller can do about it; shown after the message. */
  hint?: string;
  /** Machine-readable details, returned to tools as structured data. */
  details?: Record<string, unknown>;
  cause?: unknown;
}

/** The one error type of this codebase. Expected failures use it; anything else is a bug. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.hint = options.hint;
    this.details = options.details;
  }

  /** Message plus hint, as a person should read it. */
  describe(): string {
    return this.hint ? `${this.message}. ${this.hint}` : this.message;
  }
}

export function isAppError(value: unknown): value is AppError {
  return value instanceof AppError;
}

/** A readable one-line description of anything thrown. */
export function describeError(error: unknown): string {
  if (isAppError(error)) return error.describe();
  if (error instanceof Error) return error.message;
  return String(error);
}

/** Expected failures travel as values: `{ ok: false, error }`. */
export type Result<T, E = AppError> = { ok: true; value: T } | { ok: false; error: E };
