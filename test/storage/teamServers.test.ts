/**
 * Servers of a team on one PostgreSQL database, through the MCP protocol: four servers adding work
 * orders at once end with every one of them once; a failure learned through one server guards a
 * prompt on another at once. Skipped (and said so) without a database, required with CI=true.
 */
import { spawn, spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { ImmuneSystem } from '../../src/immune/immuneSystem.js';
import { openStorage } from '../../src/storage/storage.js';
import { sc, startHarness, textOf } from '../helpers/harness.js';
import type { Harness } from '../helpers/harness.js';
import { track } from '../helpers/processes.js';
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

/** Another developer's server (its own machine: its own folder, the same database) learns a failure. */
async function learnElsewhere(project: string, prompt: string): Promise<void> {
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
    await learnElsewhere(project, prompt);
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

/**
 * A TCP relay in front of the test database that can be switched between passing connections on
 * and refusing them (accepts, then closes at once), as a database restarting or a network cut does.
 */
async function relay(): Promise<{
  url: string;
  mode: (m: 'pass' | 'refuse') => void;
  attempts: () => number;
  close: () => Promise<void>;
}> {
  const target = new URL(TEST_DATABASE_URL);
  let mode: 'pass' | 'refuse' = 'pass';
  let attempts = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    attempts++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    if (mode === 'refuse') {
      socket.destroy();
      return;
    }
    const up = net.connect(Number(target.port || 5432), target.hostname);
    sockets.add(up);
    up.on('close', () => sockets.delete(up));
    up.on('error', () => socket.destroy());
    socket.on('close', () => up.destroy());
    up.on('close', () => socket.destroy());
    socket.pipe(up).pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const url = new URL(TEST_DATABASE_URL);
  url.hostname = '127.0.0.1';
  url.port = String(port);
  return {
    url: url.toString(),
    mode(m) {
      mode = m;
      // Cutting over: every open connection goes (the database went away).
      if (m === 'refuse') for (const s of sockets) s.destroy();
    },
    attempts: () => attempts,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe.skipIf(!HAVE_DATABASE)('the database going away and coming back', () => {
  it('calls fail with a clear error, then at once behind the breaker; health says so; once back, calls work and nothing half-written remains', async () => {
    const r = await relay();
    try {
      const h = await startHarness({
        stateDir: await fs.mkdtemp(path.join(os.tmpdir(), 'to-team-')),
        env: {
          TASK_ORCHESTRATOR_DATABASE_URL: r.url,
          TASK_ORCHESTRATOR_PROJECT: freshProject(),
          TASK_ORCHESTRATOR_TOOLS: 'all',
        },
      });
      started.push(h);
      sc(await h.call('tasks_add', { tasks: [{ title: 'before the cut' }] }));
      r.mode('refuse');
      // Calls fail with a message that says what to check, until the breaker opens.
      const messages: string[] = [];
      let fast = -1;
      for (let i = 0; i < 8 && fast < 0; i++) {
        const t = performance.now();
        const res = await h.call('tasks_add', { tasks: [{ title: `during the cut ${i}` }] });
        expect(res.isError).toBe(true);
        const text = textOf(res);
        messages.push(text);
        if (/unreachable since .* next try at/.test(text)) fast = performance.now() - t;
      }
      expect(messages[0]).toMatch(/database did not complete/i);
      expect(messages[0]).toMatch(/TASK_ORCHESTRATOR_DATABASE_URL|doctor/);
      expect(fast).toBeGreaterThanOrEqual(0);
      // Open after 3 calls in a row that could not connect (a call before them may have met its
      // pooled connection cut: that one is not about reaching the database, and is not counted).
      expect(messages.length).toBeLessThanOrEqual(5);
      // While open, a call makes no connection attempt at all.
      const before = r.attempts();
      const open = await h.call('tasks_list', {});
      expect(open.isError).toBe(true);
      expect(textOf(open)).toMatch(/unreachable since/);
      // Health still answers, and says the database is unreachable.
      const health = sc<{ storage: { backend: string; database?: { state: string; next_try_at?: string } } }>(
        await h.call('healing_status', {}),
      );
      expect(health.storage.backend).toBe('postgres');
      expect(health.storage.database?.state).toBe('open');
      expect(r.attempts() - before).toBeLessThanOrEqual(1); // the LISTEN connection's own retry, at most
      // The database comes back: the next try after the pause closes the breaker.
      r.mode('pass');
      const deadline = Date.now() + 15_000;
      let back = false;
      while (!back && Date.now() < deadline) {
        await new Promise((res) => setTimeout(res, 250));
        back = !(await h.call('tasks_add', { tasks: [{ title: 'after the cut' }] })).isError;
      }
      expect(back).toBe(true);
      const titles = sc<{ tasks: Array<{ title: string }> }>(
        await h.call('tasks_list', { limit: 100 }),
      ).tasks.map((t) => t.title);
      expect(titles).toEqual(expect.arrayContaining(['before the cut', 'after the cut']));
      expect(titles.filter((t) => t.startsWith('during the cut'))).toEqual([]);
      expect(titles.filter((t) => t === 'after the cut')).toHaveLength(1);
      expect(
        sc<{ storage: { database?: { state: string } } }>(await h.call('healing_status', {})).storage.database
          ?.state,
      ).toBe('closed');
    } finally {
      for (const h of started.splice(0)) await h.close();
      await r.close();
    }
  });
});

describe.skipIf(!HAVE_DATABASE)("a hook on the warm path, another developer's failure", () => {
  it('reaches the next prompt here, learned on another machine a moment before', async () => {
    const project = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'to-team-hook-')));
    const name = freshProject();
    const cli = path.resolve(import.meta.dirname, '../../dist/cli.js');
    const server = track(
      spawn(process.execPath, [cli, 'serve'], {
        cwd: project,
        env: {
          PATH: process.env.PATH ?? '',
          TASK_ORCHESTRATOR_DATABASE_URL: TEST_DATABASE_URL,
          TASK_ORCHESTRATOR_PROJECT: name,
        },
        stdio: ['pipe', 'pipe', 'pipe'],
      }),
    );
    const socket = path.join(project, '.task-orchestrator', 'hooks.sock');
    try {
      for (let i = 0; i < 200 && !(await fs.stat(socket).catch(() => undefined)); i++)
        await new Promise((r) => setTimeout(r, 50));
      const prompt = 'Write the migration that renames the invoices table and backfills the totals';
      const hook = () => {
        const out = spawnSync(process.execPath, [cli, 'hook', 'UserPromptSubmit'], {
          input: JSON.stringify({
            hook_event_name: 'UserPromptSubmit',
            session_id: 's1',
            cwd: project,
            prompt,
          }),
          cwd: project,
          // A variable the hook itself cannot read: only the server could have answered.
          env: { PATH: process.env.PATH ?? '', TASK_ORCHESTRATOR_CONTEXT_BUDGET: 'lots' },
          encoding: 'utf8',
        });
        return out.stdout;
      };
      expect(hook()).not.toMatch(/resembles earlier failures/);
      // Another developer's server (its own machine: its own folder) learns the failure.
      await learnElsewhere(name, prompt);
      // The very next hook here sees it: the server asks the database on every check (no poll
      // interval to wait out), so the delay is the hook's own start-up.
      const next = hook();
      expect(next).toMatch(/resembles earlier failures/);
      expect(next).toMatch(/low_quality/);
    } finally {
      server.kill('SIGKILL');
      await fs.rm(project, { recursive: true, force: true });
    }
  });
});
