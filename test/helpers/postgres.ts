/**
 * The PostgreSQL server the database tests use (TEST_DATABASE_URL, default the machine's own on
 * 127.0.0.1:5432). Elsewhere than CI, a machine without one skips those tests and says why; with
 * CI=true they are required (as the browser tests are).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

async function reachable(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 3_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    await client.end().catch(() => undefined);
  }
}

const problem = await reachable();
if (problem && process.env.CI !== 'true')
  console.warn(
    `database tests skipped: no PostgreSQL at ${TEST_DATABASE_URL} (${problem}); set TEST_DATABASE_URL, or start one (pg_ctlcluster --skip-systemctl-redirect <version> main start); with CI=true they are required`,
  );

/** Whether the database tests run here (CI=true runs them, and fails if there is no database). */
export const HAVE_DATABASE = problem === undefined || process.env.CI === 'true';

/** A project name no other test uses (rows of several projects share the tables). */
export const freshProject = (): string => `t-${randomBytes(5).toString('hex')}`;

/** Runs SQL as the test user (pg_terminate_backend, counts). */
export async function sql<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}
