/**
 * Cross-process mutual exclusion for one file, with proper-lockfile (an mkdir lock with a heartbeat;
 * a lock left by a killed process goes stale and is taken over after `staleMs`).
 */
import lockfile from 'proper-lockfile';
import { AppError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';

export interface FileLockOptions {
  /** A lock not refreshed for this long is considered abandoned. Default 5000 ms (the library's minimum is 2000). */
  staleMs?: number;
  /** Give up after about this long. Default 30000 ms. */
  waitMs?: number;
  logger?: Logger;
}

/**
 * Runs `fn` while holding the lock for `file`.
 * @throws AppError STORAGE_LOCKED when the lock cannot be taken within `waitMs`.
 */
export async function withFileLock<R>(
  file: string,
  fn: () => Promise<R>,
  options: FileLockOptions = {},
): Promise<R> {
  const staleMs = Math.max(2_000, options.staleMs ?? 5_000);
  const waitMs = options.waitMs ?? 30_000;
  const maxTimeout = 50;
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(file, {
      realpath: false,
      stale: staleMs,
      update: Math.floor(staleMs / 2),
      // Short, jittered polls: the critical sections here last milliseconds.
      retries: {
        retries: Math.ceil(waitMs / maxTimeout),
        factor: 1.2,
        minTimeout: 2,
        maxTimeout,
        randomize: true,
      },
      onCompromised: (error: Error) => {
        // Default behaviour throws from a timer, which would kill the server; log instead.
        options.logger?.error('storage lock compromised', { file, error });
      },
    });
  } catch (error) {
    throw new AppError('STORAGE_LOCKED', `Could not lock ${file} within ${waitMs} ms`, {
      hint: 'Another task-orchestrator process is holding it; retry, or check for a hung process',
      cause: error,
    });
  }
  try {
    return await fn();
  } finally {
    await release().catch((error: unknown) =>
      options.logger?.warn('storage lock release failed', { file, error }),
    );
  }
}
