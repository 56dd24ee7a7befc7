/**
 * A damaged task segment: a garbage line in the middle is set aside (copied with its offset) and
 * every later task is still listed by a server that only reads; a torn last line is reported too;
 * healing_status and doctor report each recovery.
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { sc, startHarness } from '../helpers/harness.js';
import type { Harness } from '../helpers/harness.js';

const run = promisify(execFile);
const cli = path.resolve(import.meta.dirname, '../../dist/cli.js');
let state: string;
const open: Harness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.close();
  await fs.rm(state, { recursive: true, force: true });
});

async function start() {
  const h = await startHarness({ stateDir: state, env: { TASK_ORCHESTRATOR_TOOLS: 'core' } });
  open.push(h);
  return h;
}

describe('event store recovery', () => {
  it('sets a garbage line aside, still reads every later task without a write, and reports it', async () => {
    state = await fs.mkdtemp(path.join(os.tmpdir(), 'to-recover-'));
    const writer = await start();
    for (const title of ['one', 'two', 'three', 'four'])
      sc(await writer.call('tasks_add', { tasks: [{ title }] }));
    await writer.close();
    open.splice(0);
    const dir = path.join(state, 'events', 'tasks');
    const [segment] = (await fs.readdir(dir)).filter((n) => n.endsWith('.jsonl'));
    const file = path.join(dir, segment!);
    const lines = (await fs.readFile(file, 'utf8')).split('\n');
    // The second event becomes garbage; a torn half line is left at the end.
    lines[1] = '{"seq": 2, "event": garbage';
    await fs.writeFile(file, `${lines.join('\n')}{"seq": 5, "ev`);

    const reader = await start();
    const listed = sc<{ tasks: Array<{ title: string }> }>(await reader.call('tasks_list', {}));
    expect(listed.tasks.map((t) => t.title).sort()).toEqual(['four', 'one', 'three']);
    const health = sc<{ storage: { recoveries: Array<{ file: string; problem: string; action: string }> } }>(
      await reader.call('healing_status', {}),
    );
    const found = health.storage.recoveries.map((r) => `${r.action}: ${r.problem}`);
    expect(found.filter((f) => /^set_aside: unreadable line/.test(f))).toHaveLength(1);
    expect(found.filter((f) => /^set_aside: torn last line/.test(f))).toHaveLength(1);
    const aside = await fs.readdir(path.join(dir, 'set-aside'));
    expect(aside.length).toBe(2);
    const kept = await Promise.all(aside.map((n) => fs.readFile(path.join(dir, 'set-aside', n), 'utf8')));
    expect(kept.sort()).toEqual(['{"seq": 2, "event": garbage', '{"seq": 5, "ev']);
    // doctor reports them as well.
    const { stdout } = await run(process.execPath, [cli, 'doctor', '--json'], {
      env: { ...process.env, TASK_ORCHESTRATOR_HOME: state },
    }).catch((e: { stdout: string }) => ({ stdout: e.stdout }));
    expect(stdout).toMatch(/set aside|set_aside/);
  });

  it('reports a torn last line on its own, and reads every complete task', async () => {
    state = await fs.mkdtemp(path.join(os.tmpdir(), 'to-recover-'));
    const writer = await start();
    for (const title of ['one', 'two']) sc(await writer.call('tasks_add', { tasks: [{ title }] }));
    await writer.close();
    open.splice(0);
    const dir = path.join(state, 'events', 'tasks');
    const [segment] = (await fs.readdir(dir)).filter((n) => n.endsWith('.jsonl'));
    await fs.appendFile(path.join(dir, segment!), '{"seq": 3, "event": {"type": "add');
    const reader = await start();
    const listed = sc<{ tasks: Array<{ title: string }> }>(await reader.call('tasks_list', {}));
    expect(listed.tasks.map((t) => t.title).sort()).toEqual(['one', 'two']);
    const health = sc<{ storage: { recoveries: Array<{ problem: string }> } }>(
      await reader.call('healing_status', {}),
    );
    expect(health.storage.recoveries.map((r) => r.problem)).toEqual([
      expect.stringMatching(/torn last line/),
    ]);
  });
});
