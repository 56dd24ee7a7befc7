/**
 * TEST_STORAGE=postgres runs the servers a suite starts (in process or as processes) on the test
 * database instead of their state folders. Each state folder gets a schema of its own (the URL's
 * search_path), so what a suite sees is what it would see on files: a server started again on a
 * folder, or a desk or CLI process beside it, finds the same data; two folders share nothing, even
 * under the same project name. The schemas of a run are dropped when it ends (globalSetup).
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { silentLogger } from '../../src/core/logger.js';
import { openStorage } from '../../src/storage/storage.js';
import type { Storage } from '../../src/storage/storage.js';

const BASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** The schema of one state folder in this run. */
export function schemaFor(stateDir: string): string {
  const run = (process.env.TEST_STORAGE_RUN ?? 'local').replace(/[^a-z0-9]/g, '');
  return `ts_${run}_${createHash('sha256').update(stateDir).digest('hex').slice(0, 12)}`;
}

/** The environment that points a server (or CLI, hook, desk process) at this folder's schema. */
export function storageEnv(stateDir: string): Record<string, string> {
  if (process.env.TEST_STORAGE !== 'postgres') return {};
  const url = new URL(BASE_URL);
  url.searchParams.set('options', `-c search_path=${schemaFor(stateDir)}`);
  // One project name for every process on the folder, whatever its working directory (the
  // default name comes from it); a suite that names its projects overrides this.
  return { TASK_ORCHESTRATOR_DATABASE_URL: url.toString(), TASK_ORCHESTRATOR_PROJECT: TEST_PROJECT };
}

const TEST_PROJECT = 'test';

/** Opens a folder's stores as its servers do (the schema on the database, else the folder). */
export async function openTestStorage(stateDir: string): Promise<Storage> {
  await prepareStorage(stateDir);
  const env = storageEnv(stateDir);
  return openStorage({
    stateDir,
    logger: silentLogger,
    ...(env.TASK_ORCHESTRATOR_DATABASE_URL
      ? { database: { url: env.TASK_ORCHESTRATOR_DATABASE_URL, project: TEST_PROJECT } }
      : {}),
  });
}

const made = new Set<string>();

/** Creates the folder's schema (once) before a server opens it. */
export async function prepareStorage(stateDir: string): Promise<void> {
  if (process.env.TEST_STORAGE !== 'postgres') return;
  const schema = schemaFor(stateDir);
  if (made.has(schema)) return;
  const client = new pg.Client({ connectionString: BASE_URL });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`).catch((error: { code?: string }) => {
      // Two processes creating it at once: one wins, the other finds it there.
      if (error.code !== '23505' && error.code !== '42P06') throw error;
    });
    made.add(schema);
  } finally {
    await client.end();
  }
}

/** Drops every schema of run `run` (the end of a test run). */
export async function dropRunSchemas(run: string): Promise<number> {
  const client = new pg.Client({ connectionString: BASE_URL });
  await client.connect();
  try {
    const schemas = await client.query<{ nspname: string }>(
      'SELECT nspname FROM pg_namespace WHERE nspname LIKE $1',
      [`ts\\_${run.replace(/[^a-z0-9]/g, '')}\\_%`],
    );
    for (const { nspname } of schemas.rows) await client.query(`DROP SCHEMA ${nspname} CASCADE`);
    return schemas.rows.length;
  } finally {
    await client.end();
  }
}
