/**
 * `task-orchestrator migrate` (a real process): a state folder with 10,000 work orders and 10,000
 * remembered failures goes into the database and back into a new folder; the servers on each side
 * see the same work and memory; a second copy over either is refused.
 */
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { ImmuneSystem } from '../../src/immune/immuneSystem.js';
import { openStorage } from '../../src/storage/storage.js';
import { sc, startHarness } from '../helpers/harness.js';
import type { Harness } from '../helpers/harness.js';
import { freshProject, HAVE_DATABASE, sql, TEST_DATABASE_URL } from '../helpers/postgres.js';

const cli = path.resolve(import.meta.dirname, '../../dist/cli.js');
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await fs.rm(d, { recursive: true, force: true });
});
const temp = async () => {
  const d = await fs.mkdtemp(path.join(os.tmpdir(), 'to-migrate-'));
  dirs.push(d);
  return d;
};

function migrate(args: string[], env: Record<string, string>) {
  return spawnSync(process.execPath, [cli, 'migrate', ...args], {
    env: { PATH: process.env.PATH ?? '', TASK_ORCHESTRATOR_DATABASE_URL: TEST_DATABASE_URL, ...env },
    encoding: 'utf8',
    timeout: 240_000,
  });
}

/** What a server of this store shows: the number of work orders and of patterns, and a sample. */
async function seen(h: Harness) {
  const page = sc<{ total: number; tasks: Array<{ title: string }> }>(
    await h.call('tasks_list', { limit: 5 }),
  );
  const status = sc<{ patterns: number }>(await h.call('immune_status', {}));
  return { total: page.total, titles: page.tasks.map((t) => t.title), patterns: status.patterns };
}

describe.skipIf(!HAVE_DATABASE)('migrate', () => {
  it('copies 10,000 work orders and 10,000 patterns into the database and back, checked, and never overwrites', async () => {
    const stateDir = await temp();
    const project = freshProject();
    const source = await startHarness({ stateDir, env: { TASK_ORCHESTRATOR_TOOLS: 'all' } });
    for (let i = 0; i < 10_000; i += 100)
      sc(
        await source.call('tasks_add', {
          tasks: Array.from({ length: 100 }, (_, j) => ({ title: `work order ${i + j}` })),
        }),
      );
    await source.close();
    const storage = await openStorage({ stateDir, logger: silentLogger });
    const immune = new ImmuneSystem(storage, systemClock, { matchIndex: false });
    const at = new Date().toISOString();
    for (let i = 0; i < 10_000; i += 1000)
      await immune.importPatterns(
        Array.from({ length: 1000 }, (_, j) => ({
          project: 'elsewhere',
          pattern_id: `p${i + j}`,
          operation: 'spawn_agent',
          failure_type: 'low_quality',
          prompt_summary: `render report ${i + j}`,
          output_summary: '',
          text: `render the quarterly report number ${i + j}`,
          occurrences: 1,
          saves: 0,
          strength: 1,
          strength_at: at,
          first_seen: at,
          last_seen: at,
          updated_at: at,
        })),
      );
    await storage.close();
    const folderServer = await startHarness({ stateDir, env: { TASK_ORCHESTRATOR_TOOLS: 'all' } });
    const before = await seen(folderServer);
    await folderServer.close();
    expect(before).toMatchObject({ total: 10_000, patterns: 10_000 });

    const env = { TASK_ORCHESTRATOR_HOME: stateDir, TASK_ORCHESTRATOR_PROJECT: project };
    const into = migrate(['--to-database'], env);
    expect(into.status, into.stderr).toBe(0);
    expect(into.stdout).toMatch(/event stores: immune 10, tasks 100\n/);
    expect(into.stdout).toMatch(/read back from the copy and compared/);
    const dbServer = await startHarness({
      stateDir: await temp(),
      env: {
        TASK_ORCHESTRATOR_TOOLS: 'all',
        TASK_ORCHESTRATOR_DATABASE_URL: TEST_DATABASE_URL,
        TASK_ORCHESTRATOR_PROJECT: project,
      },
    });
    expect(await seen(dbServer)).toEqual(before);
    await dbServer.close();

    const back = await temp();
    const out = migrate(['--to-folder', back], env);
    expect(out.status, out.stderr).toBe(0);
    const backServer = await startHarness({ stateDir: back, env: { TASK_ORCHESTRATOR_TOOLS: 'all' } });
    expect(await seen(backServer)).toEqual(before);
    await backServer.close();

    // Never over what is there.
    const again = migrate(['--to-database'], env);
    expect(again.status).not.toBe(0);
    expect(again.stderr).toMatch(/already holds project/);
    const over = migrate(['--to-folder', stateDir], env);
    expect(over.status).not.toBe(0);
    expect(over.stderr).toMatch(/already holds stores/);
  }, 300_000);

  it('doctor checks the connection, the migration level and the privileges', async () => {
    const doctor = (url: string) =>
      spawnSync(process.execPath, [cli, 'doctor', '--json'], {
        env: {
          PATH: process.env.PATH ?? '',
          TASK_ORCHESTRATOR_DATABASE_URL: url,
          TASK_ORCHESTRATOR_HOME: os.tmpdir() + '/to-doctor-db',
        },
        encoding: 'utf8',
      });
    const check = (stdout: string) =>
      (
        JSON.parse(stdout) as { checks: Array<{ check: string; status: string; detail: string }> }
      ).checks.find((c) => c.check === 'database');
    const good = check(doctor(TEST_DATABASE_URL).stdout);
    expect(good?.status).toBe('ok');
    expect(good?.detail).toMatch(/schema at migration \d+ of \d+/);
    const down = check(doctor('postgres://postgres@127.0.0.1:1/none').stdout);
    expect(down).toMatchObject({ status: 'fail' });
    expect(down?.detail).toMatch(/cannot connect/);
    // A user who may use the stores but not the claims' table is told which table.
    const role = `to_doc_${Math.random().toString(36).slice(2, 10)}`;
    await sql(`CREATE ROLE ${role} LOGIN`);
    try {
      await sql(`GRANT SELECT, INSERT, UPDATE, DELETE ON to_events, to_documents, to_logs TO ${role}`);
      await sql(`GRANT SELECT ON to_migrations TO ${role}`);
      const url = new URL(TEST_DATABASE_URL);
      url.username = role;
      const limited = check(doctor(url.toString()).stdout);
      expect(limited).toMatchObject({ status: 'fail' });
      expect(limited?.detail).toMatch(/may not read and write to_leases/);
    } finally {
      await sql(`DROP OWNED BY ${role}`);
      await sql(`DROP ROLE ${role}`);
    }
  });
});
