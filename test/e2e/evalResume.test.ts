/**
 * An evaluation run across server processes: kill -9 the server in the middle of a suite run, start
 * another on the same state folder and resume. Counted at the fake LLM: no case whose result was
 * recorded before the kill is asked again, and every case ends with a result.
 */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startFakeLlmServer } from '../fakes/fakeLlmServer.js';
import type { FakeLlmServer } from '../fakes/fakeLlmServer.js';
import { useWorkFolder } from './children.js';
import { LineTransport } from './lineTransport.js';
import { track } from '../helpers/processes.js';

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

const folder = useWorkFolder<Running>('to-evalresume-');

async function start(): Promise<Running> {
  const child = track(
    spawn(process.execPath, [cli, 'serve'], {
      cwd: folder.dir,
      env: {
        PATH: process.env.PATH ?? '',
        OPENAI_API_KEY: 'sk-fake-evals',
        OPENAI_BASE_URL: `${fake.url}/v1`,
        TASK_ORCHESTRATOR_HOME: path.join(folder.dir, 'state'),
        TASK_ORCHESTRATOR_TOOLS: 'eval',
        TASK_ORCHESTRATOR_CLAUDE_CLI: 'off',
        TASK_ORCHESTRATOR_RETRY_BASE_MS: '5',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    }),
  );
  child.stderr.resume();
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const client = new Client({ name: 'eval-e2e', version: '0.0.1' });
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

/** Case ids whose result is in the cells log (what a new process will not ask again). */
async function recorded(): Promise<Set<string>> {
  const dir = path.join(folder.dir, 'state', 'logs', 'eval-cells');
  const ids = new Set<string>();
  for (const f of await fs.readdir(dir).catch(() => [] as string[]))
    for (const line of (await fs.readFile(path.join(dir, f), 'utf8')).split('\n'))
      if (line.trim()) ids.add((JSON.parse(line) as { case_id: string }).case_id);
  return ids;
}

describe('evaluation runs across processes', { timeout: 90_000 }, () => {
  it('kill -9 mid-run, a new server resumes: recorded cases are not asked again, none is lost', async () => {
    await fs.mkdir(path.join(folder.dir, 'evals'));
    await fs.writeFile(
      path.join(folder.dir, 'evals', 'slow.yaml'),
      stringify({
        name: 'slow',
        providers: ['openai/fake-slow'],
        cases: Array.from({ length: 12 }, (_, i) => ({
          id: `q${i}`,
          prompt: `Question ${i}: say ok.`,
          assert: [{ type: 'icontains', value: 'ok' }],
        })),
      }),
    );
    fake.respond(() => ({ text: 'ok', delayMs: 250 }));
    const a = await start();
    const started = data<{ run: { id: string }; ended: boolean }>(
      await call(a, 'eval_run', { suite: 'evals/slow.yaml', concurrency: 2, wait_s: 0 }),
    );
    expect(started.ended).toBe(false);
    for (let i = 0; i < 100 && (await recorded()).size < 4; i++) await new Promise((r) => setTimeout(r, 50));
    a.child.kill('SIGKILL');
    await a.exited;
    const before = await recorded();
    expect(before.size).toBeGreaterThanOrEqual(4);
    expect(before.size).toBeLessThan(12);
    const askedBefore = fake.requests.length;

    const b = await start();
    const resumed = data<{
      run: { status: string };
      done_cells: number;
      ended: boolean;
      summary: Array<{ passed: number }>;
    }>(await call(b, 'eval_run', { suite: 'evals/slow.yaml', resume: started.run.id, wait_s: 60 }));
    expect(resumed).toMatchObject({ ended: true, done_cells: 12, run: { status: 'done' } });
    expect(resumed.summary[0]!.passed).toBe(12);
    const askedAfter = fake.requests.slice(askedBefore).map((q) => /Question (\d+)/.exec(q.prompt)![1]!);
    // Nothing recorded before the kill was asked again; everything else was asked once more at most.
    for (const id of before) expect(askedAfter).not.toContain(id.slice(1));
    expect(new Set(askedAfter).size).toBe(12 - before.size);
    expect(askedAfter).toHaveLength(12 - before.size);
  });
});
