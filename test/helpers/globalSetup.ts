/**
 * Once per test run (vitest globalSetup): names the run, so that the database schemas its
 * TEST_STORAGE=postgres servers create (storageEnv.ts) are told apart from another run's, and drops
 * them when the run ends.
 */
import { randomBytes } from 'node:crypto';
import { dropRunSchemas } from './storageEnv.js';

export default function setup(): () => Promise<void> {
  process.env.TEST_STORAGE_RUN ??= randomBytes(4).toString('hex');
  const run = process.env.TEST_STORAGE_RUN;
  return async () => {
    await dropRunSchemas(run).catch(() => undefined);
  };
}
