/**
 * Servers of a team on one PostgreSQL database, through the MCP protocol: four servers adding work
 * orders at once end with every one of them once; a failure learned through one server guards a
 * prompt on another at once. Skipped (and said so) without a database, required with CI=true.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { ImmuneSystem } from '../../src/immune/immuneSystem.js';
import { openStorage } from '../../src/storage/storage.js';
import { sc, startHarness } from '../helpers/harness.js';
import type { Harness } from '../helpers/harness.js';
import { freshProject, HAVE_DATABASE, sql, TEST_DATABASE_URL } from '../helpers/postgres.js';

const started: Harness[] = [];
afterEach(async () => {
  for (const h of started.splice(0)) await h.close();
});

/** `n` servers, each with its own state folder (their machines), sharing one database project. */
async function servers(n: number): Promise<Harness[]> {
  const project = freshProject();
  const out: Harness[] = [];
  for (let i = 0; i < n; i++) {
    const stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'to-team-'));
    out.push(
      await startHarness({
        stateDir,
        env: {
          TASK_ORCHESTRATOR_DATABASE_URL: TEST_DATABASE_URL,
          TASK_ORCHESTRATOR_PROJECT: project,
          TASK_ORCHESTRATOR_TOOLS: 'all',
        },
      }),
    );
  }
  started.push(...out);
  return out;
}

describe.skipIf(!HAVE_DATABASE)('a team on one database', () => {
  it('4 servers x 50 concurrent tasks_add: 200 work orders, no duplicates, the same list everywhere', async () => {
    const hs = await servers(4);
    await Promise.all(
      hs.flatMap((h, s) =>
        Array.from({ length: 50 }, (_, i) =>
          h.call('tasks_add', { tasks: [{ title: `server ${s} order ${i}` }] }),
        ),
      ),
    );
    const all = async (h: Harness) => {
      const tasks: Array<{ id: string; title: string }> = [];
      let cursor: string | undefined;
      do {
        const page = sc<{ tasks: Array<{ id: string; title: string }>; next_cursor?: string }>(
          await h.call('tasks_list', { limit: 100, ...(cursor ? { cursor } : {}) }),
        );
        tasks.push(...page.tasks);
        cursor = page.next_cursor;
      } while (cursor);
      return tasks;
    };
    const lists = await Promise.all(hs.map(all));
    for (const tasks of lists) {
      expect(tasks).toHaveLength(200);
      expect(new Set(tasks.map((t) => t.id)).size).toBe(200);
      expect(new Set(tasks.map((t) => t.title)).size).toBe(200);
    }
  });

  it('a failure another server learned guards a prompt here at once', async () => {
    const project = freshProject();
    const stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'to-team-'));
    const b = await startHarness({
      stateDir,
      env: {
        TASK_ORCHESTRATOR_DATABASE_URL: TEST_DATABASE_URL,
        TASK_ORCHESTRATOR_PROJECT: project,
        TASK_ORCHESTRATOR_TOOLS: 'all',
      },
    });
    started.push(b);
    const prompt = 'Write the migration that renames the invoices table and backfills the totals';
    expect(sc<{ matches: unknown[] }>(await b.call('immune_check', { prompt })).matches).toHaveLength(0);
    // Another developer's server (its own storage on the same database) learns the failure.
    const elsewhere = await openStorage({
      stateDir: await fs.mkdtemp(path.join(os.tmpdir(), 'to-team-')),
      logger: silentLogger,
      database: { url: TEST_DATABASE_URL, project },
    });
    await new ImmuneSystem(elsewhere, systemClock).recordFailure(
      {
        operation: 'spawn_agent',
        failure_type: 'low_quality',
        prompt,
        output: 'I cannot help.',
        grader_scores: {},
      },
      { offline: true },
    );
    await elsewhere.close();
    const check = sc<{ matches: Array<{ failure_type: string }> }>(await b.call('immune_check', { prompt }));
    expect(check.matches[0]?.failure_type).toBe('low_quality');
  });
});

describe.skipIf(!HAVE_DATABASE)('projects sharing one database hub', () => {
  it('a failure one project learned and shared guards the other after it subscribes, by the hub rules', async () => {
    // A database of its own: the hub's rows are shared by every project on a database.
    const name = `to_fed_${freshProject().replace('-', '_')}`;
    await sql(`CREATE DATABASE ${name}`);
    const url = TEST_DATABASE_URL.replace(/\/[^/]*$/, `/${name}`);
    try {
      const start = async (project: string) => {
        const h = await startHarness({
          stateDir: await fs.mkdtemp(path.join(os.tmpdir(), 'to-team-')),
          env: {
            TASK_ORCHESTRATOR_DATABASE_URL: url,
            TASK_ORCHESTRATOR_PROJECT: project,
            TASK_ORCHESTRATOR_FEDERATION_DIR: 'database',
            TASK_ORCHESTRATOR_TOOLS: 'all',
          },
        });
        started.push(h);
        return h;
      };
      const alpha = await start('alpha');
      const beta = await start('beta');
      const prompt = 'Write the migration that renames the invoices table and backfills the totals';
      await alpha.services.immune.recordFailure(
        { operation: 'spawn_agent', failure_type: 'low_quality', prompt, output: 'No.', grader_scores: {} },
        { offline: true },
      );
      expect(sc<{ pushed: number }>(await alpha.call('sync_trigger', { direction: 'push' })).pushed).toBe(1);
      expect(sc<{ matches: unknown[] }>(await beta.call('immune_check', { prompt })).matches).toHaveLength(0);
      const status = sc<{ hub: string; projects: Array<{ project: string; patterns: number }> }>(
        await beta.call('federation_status', {}),
      );
      expect(status.hub).toBe('postgres:_hub');
      expect(status.projects).toEqual([expect.objectContaining({ project: 'alpha', patterns: 1 })]);
      sc(await beta.call('federation_subscribe', { project: 'alpha' }));
      expect(sc<{ pulled: number }>(await beta.call('immune_sync', { direction: 'pull' })).pulled).toBe(1);
      const check = sc<{ matches: Array<{ origin?: { project: string } }> }>(
        await beta.call('immune_check', { prompt }),
      );
      expect(check.matches[0]?.origin?.project).toBe('alpha');
    } finally {
      for (const h of started.splice(0)) await h.close();
      await sql(`DROP DATABASE ${name} WITH (FORCE)`);
    }
  });
});
