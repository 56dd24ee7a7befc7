/* global fetch, TextDecoder */
/**
 * Issue 31: a team on PostgreSQL against the state folder, in one run. Throughput of tasks_add and
 * immune_check with 1, 4 and 8 servers (stdio processes; on files they share one state folder, on
 * the database one project, each with its own folder as on separate machines); how long a change
 * made by another process takes to reach an open desk page; immune_check at 100,000 patterns on
 * the database; the hooks on the database, with and without a server. Skipped with a note when no PostgreSQL answers (TEST_DATABASE_URL).
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { cliPath, percentile, root, seedPatterns, startDesk, startOrchestrator, tempDir } from '../lib.mjs';

const URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const dist = (...p) => pathToFileURL(path.join(root, 'dist', ...p)).href;

async function reachable() {
  const c = new pg.Client({ connectionString: URL, connectionTimeoutMillis: 3000 });
  c.on('error', () => {});
  try {
    await c.connect();
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}

/** `n` servers on one store: a shared folder, or one database project with a folder each. */
async function servers(backend, n) {
  const shared = tempDir('to-bench-team-');
  const project = `bench-${randomBytes(4).toString('hex')}`;
  const out = [];
  for (let i = 0; i < n; i++)
    out.push(
      await startOrchestrator({
        TASK_ORCHESTRATOR_TOOLS: 'all',
        ...(backend === 'files'
          ? { TASK_ORCHESTRATOR_HOME: shared.dir }
          : { TASK_ORCHESTRATOR_DATABASE_URL: URL, TASK_ORCHESTRATOR_PROJECT: project }),
      }),
    );
  return {
    list: out,
    project,
    dir: shared.dir,
    close: async () => {
      for (const s of out) await s.close();
      shared.remove();
    },
  };
}

/** One hook process as Claude Code runs it (event JSON on stdin), timed. */
function hookTime(args, input, cwd, env) {
  const t = performance.now();
  const r = spawnSync(process.execPath, args, {
    input,
    cwd,
    env: { PATH: process.env.PATH, ...env },
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`exit ${r.status}: ${r.stderr}`);
  return performance.now() - t;
}

/**
 * The hooks on the database at 10,000 patterns, against bare node in the same loop: cold (no
 * server: the hook process opens the database and reads the memory through the match index the
 * first hook left in its state folder, brought up with one query; the first two runs, which
 * replay and write it, are not counted) and warm (a server of the project answers on its socket).
 */
async function hooksOnDatabase() {
  const rows = [];
  const project = `bench-${randomBytes(4).toString('hex')}`;
  const seedDir = tempDir('to-bench-seed-');
  await seedPatterns(
    seedDir.dir,
    10_000,
    (j) => ({
      text: `build the ${j % 97} module of team ${j} with npm run task-${j}`,
      operation: 'claude_code:Bash',
      failure_type: 'tool_error',
    }),
    { url: URL, project },
  );
  seedDir.remove();
  const folder = tempDir('to-bench-team-hook-');
  const env = { TASK_ORCHESTRATOR_DATABASE_URL: URL, TASK_ORCHESTRATOR_PROJECT: project };
  const input = JSON.stringify({
    hook_event_name: 'UserPromptSubmit',
    session_id: 'bench',
    cwd: folder.dir,
    prompt: 'please refactor the logging of the web server',
  });
  const measure = (mode, n) => {
    const bare = [];
    const hook = [];
    for (let i = 0; i < n + 2; i++) {
      const b = hookTime(['-e', '0'], '', folder.dir, {});
      const h = hookTime([cliPath, 'hook', 'UserPromptSubmit'], input, folder.dir, env);
      if (i < 2) continue;
      bare.push(b);
      hook.push(h);
    }
    const base = percentile(bare, 50);
    const p50 = percentile(hook, 50);
    rows.push({
      metric: `hook UserPromptSubmit on the database, 10,000 patterns, ${mode}: p50 / node -e 0 p50`,
      value: `${p50.toFixed(0)} / ${base.toFixed(0)}`,
      unit: 'ms',
    });
    rows.push({
      metric: `hook UserPromptSubmit on the database, 10,000 patterns, ${mode}: ratio to node`,
      value: p50 / base,
      unit: 'x',
      ...(mode === 'warm' ? { target: '<= 2', pass: p50 / base <= 2 } : {}),
    });
  };
  measure('cold (no server)', 8);
  const server = spawn(process.execPath, [cliPath, 'serve'], {
    cwd: folder.dir,
    env: { PATH: process.env.PATH, ...env },
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  try {
    const socket = path.join(folder.dir, '.task-orchestrator', 'hooks.sock');
    for (let i = 0; i < 400 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 50));
    // The server's first check replays the memory; the hooks after it are what a session sees.
    hookTime([cliPath, 'hook', 'UserPromptSubmit'], input, folder.dir, env);
    measure('warm (a server answers)', 30);
  } finally {
    server.kill('SIGKILL');
    folder.remove();
  }
  return rows;
}

const call = async (client, name, args) => {
  const r = await client.callTool({ name, arguments: args });
  if (r.isError) throw new Error(`${name}: ${JSON.stringify(r.content).slice(0, 300)}`);
  return r;
};

/** Calls per second when every server runs `perServer` calls, 8 at a time. */
async function throughput(list, perServer, make) {
  const t = performance.now();
  await Promise.all(
    list.map(async (s, si) => {
      for (let i = 0; i < perServer; i += 8)
        await Promise.all(
          Array.from({ length: Math.min(8, perServer - i) }, (_, j) => make(s.client, si, i + j)),
        );
    }),
  );
  return (list.length * perServer) / ((performance.now() - t) / 1000);
}

/** From a failure recorded by another process to `event: change` on an open desk page, p50. */
async function deskLag(backend) {
  const state = tempDir('to-bench-desk-');
  const project = `bench-${randomBytes(4).toString('hex')}`;
  const database = backend === 'postgres' ? { url: URL, project } : undefined;
  const env = {
    TASK_ORCHESTRATOR_HOME: state.dir,
    ...(database ? { TASK_ORCHESTRATOR_DATABASE_URL: URL, TASK_ORCHESTRATOR_PROJECT: project } : {}),
  };
  const desk = await startDesk(env);
  const { openStorage } = await import(dist('storage', 'storage.js'));
  const { ImmuneSystem } = await import(dist('immune', 'immuneSystem.js'));
  const { createLogger } = await import(dist('core', 'logger.js'));
  const storage = await openStorage({
    stateDir: tempDir('to-bench-writer-').dir,
    logger: createLogger({ level: 'error', write: () => {} }),
    ...(database ? { database } : {}),
  });
  const writerState = database ? undefined : state.dir;
  const writer = writerState
    ? await openStorage({ stateDir: writerState, logger: createLogger({ level: 'error', write: () => {} }) })
    : storage;
  const immune = new ImmuneSystem(writer, { now: () => Date.now() }, { matchIndex: false });
  const res = await fetch(`${desk.base}/events`);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const until = async (text) => {
    for (;;) {
      const at = buffer.indexOf(text);
      if (at >= 0) {
        buffer = buffer.slice(at + text.length);
        return;
      }
      const { value, done } = await reader.read();
      if (done) throw new Error('event stream ended');
      buffer += decoder.decode(value);
    }
  };
  await until(': ready');
  const lags = [];
  for (let i = 0; i < 8; i++) {
    buffer = '';
    const t0 = performance.now();
    await immune.recordFailure(
      {
        operation: 'spawn_agent',
        failure_type: 'empty_response',
        prompt: `new failure ${i} ${randomBytes(4).toString('hex')}`,
        output: '',
        grader_scores: {},
      },
      { offline: true },
    );
    await until('event: change');
    lags.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 300));
  }
  await reader.cancel();
  await desk.stop();
  await writer.close();
  if (writer !== storage) await storage.close();
  state.remove();
  return percentile(lags, 50);
}

export default {
  name: 'team',
  title:
    'A team on PostgreSQL: throughput with 1, 4 and 8 servers, change-to-desk latency, immune_check at 100,000 patterns',
  async run() {
    if (!(await reachable()))
      return { rows: [], notes: [`skipped: no PostgreSQL at ${URL} (set TEST_DATABASE_URL)`] };
    const rows = [];
    const per = 48;
    for (const n of [1, 4, 8]) {
      const got = {};
      for (const backend of ['files', 'postgres']) {
        const group = await servers(backend, n);
        const adds = await throughput(group.list, per, (client, s, i) =>
          call(client, 'tasks_add', { tasks: [{ title: `server ${s} order ${i}` }] }),
        );
        const checks = await throughput(group.list, per, (client, s, i) =>
          call(client, 'immune_check', { prompt: `render the quarterly report ${s}-${i}` }),
        );
        // Every order once, seen by the first server.
        const total = (await call(group.list[0].client, 'tasks_list', { limit: 1 })).structuredContent?.total;
        if (total !== n * per) throw new Error(`${backend}: ${total} work orders, expected ${n * per}`);
        await group.close();
        got[backend] = { adds, checks, total };
      }
      for (const backend of ['files', 'postgres'])
        rows.push(
          {
            metric: `${n} server(s), ${backend}: tasks_add per second`,
            value: got[backend].adds,
            unit: '/s',
          },
          {
            metric: `${n} server(s), ${backend}: immune_check per second`,
            value: got[backend].checks,
            unit: '/s',
          },
        );
      rows.push({
        metric: `${n} server(s): postgres / files, tasks_add throughput`,
        value: got.postgres.adds / got.files.adds,
        unit: 'x',
      });
    }
    for (const backend of ['files', 'postgres']) {
      const lag = await deskLag(backend);
      rows.push({
        metric: `${backend}: a failure recorded by another process to the open desk's change event, p50`,
        value: lag,
        unit: 'ms',
        ...(backend === 'postgres' ? { target: '<= 1000 ms', pass: lag <= 1000 } : {}),
      });
    }
    // immune_check at 100,000 patterns on the database.
    const project = `bench-${randomBytes(4).toString('hex')}`;
    const seedDir = tempDir('to-bench-seed-');
    const t0 = performance.now();
    await seedPatterns(
      seedDir.dir,
      100_000,
      (j) => ({
        text: `summarise the ${j % 97} report of team ${j} for the board`,
        operation: 'spawn_agent',
        failure_type: 'low_quality',
      }),
      { url: URL, project },
    );
    rows.push({
      metric: 'seed 100,000 patterns into the database',
      value: performance.now() - t0,
      unit: 'ms',
    });
    const t1 = performance.now();
    const server = await startOrchestrator({
      TASK_ORCHESTRATOR_TOOLS: 'immune',
      TASK_ORCHESTRATOR_DATABASE_URL: URL,
      TASK_ORCHESTRATOR_PROJECT: project,
    });
    await call(server.client, 'immune_check', { prompt: 'warm up' });
    rows.push({
      metric: 'server start to first immune_check at 100,000 patterns (postgres)',
      value: performance.now() - t1,
      unit: 'ms',
    });
    const times = [];
    for (let i = 0; i < 250; i++) {
      const t = performance.now();
      await call(server.client, 'immune_check', {
        prompt: `summarise the ${i % 97} report of team ${i * 7} for the board`,
      });
      if (i >= 50) times.push(performance.now() - t);
    }
    await server.close();
    seedDir.remove();
    const p50 = percentile(times, 50);
    rows.push({
      metric: 'immune_check p50 / p99 at 100,000 patterns (postgres)',
      value: `${p50.toFixed(2)} / ${percentile(times, 99).toFixed(2)}`,
      unit: 'ms',
      target: 'p50 < 5 ms',
      pass: p50 < 5,
    });
    rows.push(...(await hooksOnDatabase()));
    const cleanup = new pg.Pool({ connectionString: URL });
    for (const table of ['to_events', 'to_documents', 'to_logs', 'to_leases'])
      await cleanup.query(`DELETE FROM ${table} WHERE project LIKE 'bench-%'`).catch(() => undefined);
    await cleanup.end();
    return {
      rows,
      notes: [
        'Servers are stdio processes on this 2-core machine; each runs its calls 8 at a time. On files the servers share one state folder (the file lock orders writes); on PostgreSQL each has its own folder and they share one project (an advisory lock per store orders appends, one transaction per batch).',
        "Every read on PostgreSQL asks the database for events after the last one it applied (one round trip), so a server's memory is current on every call; the desk hears changes through LISTEN/NOTIFY and looks again at once, on files it polls once a second.",
      ],
    };
  },
};
