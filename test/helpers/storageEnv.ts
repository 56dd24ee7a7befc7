/**
 * TEST_STORAGE=postgres runs the servers a suite starts (in process or as processes) on the test
 * database instead of their state folders: one project per state folder, so a server started again
 * on a folder, or a desk process beside it, finds the same data.
 */
import { createHash } from 'node:crypto';

export function storageEnv(stateDir: string): Record<string, string> {
  if (process.env.TEST_STORAGE !== 'postgres') return {};
  return {
    TASK_ORCHESTRATOR_DATABASE_URL:
      process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
    TASK_ORCHESTRATOR_PROJECT: `t-${createHash('sha256').update(stateDir).digest('hex').slice(0, 12)}`,
  };
}
