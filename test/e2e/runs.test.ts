/**
 * A supervisor run across server processes: kill -9 the server in the middle of a run, start two
 * more on the same state folder and resume. Counted at the fake LLM: no node whose result was
 * recorded is asked again, no node is lost, and the two new servers never run the same node. The
 * same on a team database (each server with its own folder, as on separate machines), where the
 * servers' database connections are also cut (pg_terminate_backend) while the run goes on.
 */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeLlmServer } from '../fakes/fakeLlmServer.js';
import type { FakeLlmServer } from '../fakes/fakeLlmServer.js';
import { taskOf, team, titleOf } from '../fakes/team.js';
import { useWorkFolder } from './children.js';
import { LineTransport } from './lineTransport.js';
import { track } from '../helpers/processes.js';
import { freshProject, HAVE_DATABASE, sql, TEST_DATABASE_URL } from '../helpers/postgres.js';

const cli = path.resolve(import.meta.dirname, '../../dist/cli.js');

interface Running {
  child: ChildProcessWithoutNullStreams;
  client: Client;
  exited: Promise<number | null>;
}

let fake: FakeLlmServer;
beforeAll(async () => {
  fake = await startFakeLlmServer();
});
afterAll(async () => {
  await fake.close();
});

const folder = useWorkFolder<Running>('to-runs-');

/** Where the servers keep their stores: undefined for the shared state folder, else a database project. */
let project: string | undefined;
let serverCount = 0;

async function start(env: Record<string, string> = {}): Promise<Running> {
  const child = track(
    spawn(process.execPath, [cli, 'serve'], {
      cwd: folder.dir,
      env: {
        PATH: process.env.PATH ?? '',
        OPENAI_API_KEY: 'sk-fake-runs',
        OPENAI_BASE_URL: `${fake.url}/v1`,
        // On a database each server has a folder of its own (its machine); the stores are shared.
        TASK_ORCHESTRATOR_HOME: path.join(folder.dir, project ? `state-${serverCount++}` : 'state'),
        ...(project
          ? { TASK_ORCHESTRATOR_DATABASE_URL: TEST_DATABASE_URL, TASK_ORCHESTRATOR_PROJECT: project }
          : {}),
        TASK_ORCHESTRATOR_TOOLS: 'task,run,agent',
        TASK_ORCHESTRATOR_JUDGE_GRADERS: 'off',
        TASK_ORCHESTRATOR_RETRY_BASE_MS: '5',
        ...env,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    }),
  );
  child.stderr.resume();
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const client = new Client({ name: 'runs-e2e', version: '0.0.1' });
  await client.connect(new LineTransport(child));
  const running = { child, client, exited };
  folder.started.push(running);
  return running;
}

const call = (r: Running, name: string, args: Record<string, unknown>) =>
  r.client.callTool({ name, arguments: args }, undefined, { timeout: 120_000 }) as Promise<CallToolResult>;
const text = (r: CallToolResult) => r.content.map((c) => (c.type === 'text' ? c.text : '')).join('');
function data<T>(r: CallToolResult): T {
  expect(r.isError, text(r)).toBeFalsy();
  return r.structuredContent as T;
}

interface StoredRun {
  status: string;
  nodes: Record<string, { state: string; pending?: unknown }>;
}

async function storedRun(id: string): Promise<StoredRun | undefined> {
  if (project) {
    const [row] = await sql<{ value: { runs: Record<string, StoredRun> } }>(
      "SELECT value FROM to_documents WHERE project = $1 AND name = 'runs'",
      [project],
    );
    return row?.value.runs[id];
  }
  try {
    const doc = JSON.parse(await fs.readFile(path.join(folder.dir, 'state', 'runs.json'), 'utf8')) as {
      runs: Record<string, StoredRun>;
    };
    return doc.runs[id];
  } catch {
    return undefined;
  }
}

/**
 * Starts a run of eight nodes (pairs with a data edge) at concurrency 2, kills its server with
 * SIGKILL once three are done, and starts two more servers on the state folder. Returns what was
 * recorded before the kill (never to be asked again).
 */
async function killMidRun(env: Record<string, string>) {
  fake.respond(team({ worker: (prompt) => ({ text: `Done: ${titleOf(prompt)}`, delayMs: 300 }) }));
  const a = await start(env);
  data(await call(a, 'worker_interview', { provider: 'openai', model: 'gpt-4o-mini' }));
  const titles = Array.from({ length: 8 }, (_, i) => `Part ${i + 1}`);
  const added = data<{ added: Array<{ task: { id: string; title: string } }> }>(
    await call(a, 'tasks_add', {
      tasks: [
        { ref: 'root', title: 'Eight parts' },
        ...titles.map((title, i) => ({
          ref: `p${i}`,
          title,
          parent: 'root',
          ...(i % 2 === 1 ? { depends_on: [{ task: `p${i - 1}`, kind: 'data' }] } : {}),
        })),
      ],
    }),
  );
  const root = added.added[0]!.task.id;
  const nodes = added.added.slice(1).map((x) => x.task.id);
  const runId = data<{ run: { run_id: string } }>(
    await call(a, 'tasks_run', { root, dry_run: false, concurrency: 2, wait_s: 0 }),
  ).run.run_id;
  // Let a few nodes finish, then kill the server without warning.
  for (let i = 0; i < 200; i++) {
    const run = await storedRun(runId);
    if (run && Object.values(run.nodes).filter((n) => n.state === 'done').length >= 3) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  a.child.kill('SIGKILL');
  await a.exited;
  const atKill = fake.requests.length;
  const snapshot = (await storedRun(runId))!;
  // Recorded before the kill: in the run (done, or an answer awaiting review and gates), or as
  // the task's completion (the result is the task's; the run's own note of it may be missing).
  // Read by a server that drives nothing, before the two that go on start.
  const reader = await start({ ...env, TASK_ORCHESTRATOR_RUN_AUTO_RESUME: 'off' });
  const completed = new Set<string>();
  for (const id of nodes) {
    const task = data<{ task: { status: string } }>(await call(reader, 'tasks_get', { task_id: id })).task;
    if (task.status === 'completed') completed.add(id);
  }
  reader.child.kill('SIGTERM');
  await reader.exited;
  const recorded = Object.entries(snapshot.nodes)
    .filter(([id, n]) => n.state === 'done' || n.pending !== undefined || completed.has(id))
    .map(([id]) => id);
  const [b, c] = await Promise.all([start(env), start(env)]);
  expect(recorded.length).toBeGreaterThanOrEqual(3);
  expect(recorded.length).toBeLessThan(8);

  return { b, c, runId, root, nodes, recorded, atKill };
}

/** Every node done; a node recorded before the kill never asked again, the others exactly once. */
async function expectFinishedOnce(
  driver: Running,
  run: Awaited<ReturnType<typeof killMidRun>>,
): Promise<void> {
  let status = '';
  for (let i = 0; i < 400 && status !== 'completed'; i++) {
    status = data<{ run: { status: string } }>(await call(driver, 'tasks_run_status', { run_id: run.runId }))
      .run.status;
    if (status !== 'completed') await new Promise((r) => setTimeout(r, 50));
  }
  expect(status).toBe('completed');
  const final = data<{ run: { nodes: Array<{ task: string; state: string }> } }>(
    await call(driver, 'tasks_run_status', { run_id: run.runId }),
  ).run;
  expect(final.nodes.map((n) => n.state)).toEqual(Array(8).fill('done'));
  for (const id of run.nodes) {
    const after = fake.requests.slice(run.atKill).filter((r) => taskOf(r.prompt) === id);
    expect(after.length, `${id} after the kill`).toBe(run.recorded.includes(id) ? 0 : 1);
  }
  expect(
    data<{ task: { status: string } }>(await call(driver, 'tasks_get', { task_id: run.root })).task.status,
  ).toBe('completed');
}

const backends = ['files', ...(HAVE_DATABASE ? ['postgres'] : [])] as const;

describe.each(backends)('supervisor runs across processes on %s', { timeout: 90_000 }, (backend) => {
  beforeEach(() => {
    project = backend === 'postgres' ? freshProject() : undefined;
  });

  it('kill -9 mid-run, two servers resume: recorded nodes are not asked again, none is lost, none runs twice', async () => {
    const run = await killMidRun({ TASK_ORCHESTRATOR_RUN_AUTO_RESUME: 'off' });
    const { b, c, runId } = run;
    // Two servers try to resume at once: exactly one drives the run.
    const tries = await Promise.all([
      call(b, 'tasks_run', { resume: runId, wait_s: 60 }),
      call(c, 'tasks_run', { resume: runId, wait_s: 60 }),
    ]);
    expect(tries.filter((t) => !t.isError)).toHaveLength(1);
    expect(text(tries.find((t) => t.isError)!)).toMatch(/another server process|is completed/);
    await expectFinishedOnce(tries[0].isError ? c : b, run);
  });

  it('kill -9 mid-run: the servers started next finish it by themselves, each node once', async () => {
    // Nobody calls tasks_run {resume}: one of the two new servers takes the run over at start.
    const run = await killMidRun({});
    if (project) {
      // And the database connections of every server are cut while they go on.
      const cut = await sql<{ n: string }>(
        'SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE application_name = $1',
        [`task-orchestrator ${project}`],
      );
      expect(Number(cut[0]?.n)).toBeGreaterThan(0);
    }
    await expectFinishedOnce(run.b, run);
    const history = data<{ run: { history: Array<{ text: string }> } }>(
      await call(run.c, 'tasks_run_status', { run_id: run.runId }),
    ).run.history;
    expect(history.some((e) => /driven by .* for auto-resume/.test(e.text))).toBe(true);
  });
});
