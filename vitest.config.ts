import pg from 'pg';
import { defineConfig } from 'vitest/config';

/**
 * The suites whose servers keep state run twice: on state folders, and on PostgreSQL
 * (TEST_STORAGE=postgres, test/helpers/storageEnv.ts). The second pass needs the database: with
 * CI=true it is required; elsewhere it is left out, saying why.
 */
const STORAGE_SUITES = [
  'tasks',
  'mcp',
  'runs',
  'cost',
  'agents',
  'immune',
  'workflows',
  'evaluation',
  'healing',
  'safety',
  'desk',
].map((d) => `test/${d}/**/*.test.ts`);

async function databaseProblem(): Promise<string | undefined> {
  const url = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return undefined;
  } catch (error) {
    return `${url}: ${error instanceof Error ? error.message : String(error)}`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

const problem = process.env.CI === 'true' ? undefined : await databaseProblem();
if (problem)
  console.warn(
    `the postgres pass of the storage suites is left out: no PostgreSQL at ${problem} (set TEST_DATABASE_URL or start one; with CI=true it is required)`,
  );

export default defineConfig({
  test: {
    // Processes a test file started are stopped when it ends, even after a failure.
    setupFiles: ['test/helpers/setup.ts'],
    globalSetup: ['test/helpers/globalSetup.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Several suites start child processes; two cores do not gain from more workers.
    maxWorkers: 2,
    // A test whose checks all sit in a loop over an empty list fails instead of passing silently.
    expect: { requireAssertions: true },
    // The JSON report lets .ci/run print a plain "N passed, N failed" line.
    reporters: ['default', 'json'],
    outputFile: { json: 'coverage/test-results.json' },
    projects: [
      { extends: true, test: { name: 'files', include: ['test/**/*.test.ts'] } },
      ...(problem
        ? []
        : [
            {
              extends: true as const,
              test: { name: 'postgres', include: STORAGE_SUITES, env: { TEST_STORAGE: 'postgres' } },
            },
          ]),
    ],
  },
});
