/**
 * Limits a client cannot talk past (each refusal names its setting), and the human channel for
 * decisions: `task-orchestrator approve` / `waive-gates` in a real pseudo-terminal (util-linux
 * `script`), where a person types the decision.
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { sc, startHarness, textOf } from '../helpers/harness.js';
import { storageEnv } from '../helpers/storageEnv.js';
import type { Harness } from '../helpers/harness.js';

const run = promisify(execFile);
const cli = path.resolve(import.meta.dirname, '../../dist/cli.js');
let h: Harness | undefined;
const folders: string[] = [];
afterEach(async () => {
  await h?.close();
  h = undefined;
  for (const f of folders.splice(0)) await fs.rm(f, { recursive: true, force: true });
});

async function tempFolder(): Promise<string> {
  const dir = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'to-human-')));
  folders.push(dir);
  return dir;
}

/** Runs the CLI in `cwd` in a pseudo-terminal, with `typed` as the person's keystrokes. */
async function inTerminal(
  cwd: string,
  args: string[],
  typed: string,
  env: Record<string, string>,
  wrapper: string[] = [],
) {
  const command = [process.execPath, cli, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  // The person's own terminal: none of Claude Code's variables (the test runner may have them).
  const own = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(CLAUDECODE|CLAUDE_CODE_|CLAUDE_PID|AI_AGENT)/.test(k)),
  );
  const [program, ...before] = [...wrapper, 'script'];
  const child = execFile(program, [...before, '-qec', command, '/dev/null'], {
    cwd,
    // On the database (TEST_STORAGE=postgres) the person's CLI reads the same schema as the server.
    env: { ...own, ...(env.TASK_ORCHESTRATOR_HOME ? storageEnv(env.TASK_ORCHESTRATOR_HOME) : {}), ...env },
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  // Type once the prompt is shown.
  let exited: number | null | undefined;
  const exit = new Promise<number | null>((resolve) =>
    child.on('exit', (c) => {
      exited = c;
      resolve(c);
    }),
  );
  for (let i = 0; i < 200 && exited === undefined && !/Type "/.test(out); i++)
    await new Promise((r) => setTimeout(r, 50));
  if (exited === undefined) child.stdin?.write(`${typed}\n`);
  const code = await exit;
  return { code, out };
}

describe('limits', () => {
  it('refuses artifacts past the quota and scheduled jobs past the cap, naming the setting', async () => {
    h = await startHarness({
      cwd: await tempFolder(),
      env: {
        TASK_ORCHESTRATOR_TOOLS: 'task,workflow',
        TASK_ORCHESTRATOR_ARTIFACT_QUOTA_MB: '1',
        TASK_ORCHESTRATOR_MAX_SCHEDULED_JOBS: '3',
      },
    });
    const added = sc<{ added: Array<{ task: { id: string } }> }>(
      await h.call('tasks_add', { tasks: [{ title: 'a' }, { title: 'b' }, { title: 'c' }] }),
    );
    const work = 'w'.repeat(400 * 1024);
    const results = [];
    for (const { task } of added.added)
      results.push(await h.call('tasks_complete', { task_id: task.id, detailed_work: work }));
    expect(results.map((r) => Boolean(r.isError))).toEqual([false, false, true]);
    expect(textOf(results[2]!)).toMatch(
      /LIMIT_REACHED.*quota is 1048576.*TASK_ORCHESTRATOR_ARTIFACT_QUOTA_MB/,
    );
    const jobs = [];
    for (let i = 0; i < 4; i++)
      jobs.push(
        await h.call('schedule_task', {
          name: `job ${i}`,
          every: '1h',
          command: { command: 'echo', args: [String(i)] },
        }),
      );
    expect(jobs.map((r) => Boolean(r.isError))).toEqual([false, false, false, true]);
    expect(textOf(jobs[3]!)).toMatch(/limit is 3 \(TASK_ORCHESTRATOR_MAX_SCHEDULED_JOBS\)/);
  });
});

describe('retention', () => {
  // Segments and their writers are the state folder's; the database deletes rows by age (below).
  it.skipIf(process.env.TEST_STORAGE === 'postgres')(
    'deletes trial segments older than TASK_ORCHESTRATOR_RETENTION_DAYS whose writer is gone, and keeps the rest',
    async () => {
      const state = await tempFolder();
      const first = await startHarness({ stateDir: state, env: { TASK_ORCHESTRATOR_TOOLS: 'eval' } });
      await first.services.trials.record({
        operation: 'x',
        prompt: 'old',
        output: 'o',
        pass: true,
        score: 1,
        graders: [],
      });
      await first.close();
      // A segment of a writer that is still alive is kept, however old.
      const sleeper = execFile('sleep', ['30']);
      const dir = path.join(state, 'logs', 'trials');
      const live = path.join(dir, `0000000000001-${sleeper.pid}-abcdef.jsonl`);
      await fs.writeFile(
        live,
        '{"id":"tri_live","operation":"x","prompt":"p","output":"o","pass":true,"score":1,"graders":[],"created_at":"2020-01-01T00:00:00.000Z"}\n',
      );
      const old = new Date(Date.now() - 400 * 86_400_000);
      await fs.utimes(live, old, old);
      try {
        const later = Date.now() + 200 * 86_400_000;
        h = await startHarness({
          stateDir: state,
          clock: { now: () => later },
          env: { TASK_ORCHESTRATOR_TOOLS: 'eval' },
        });
        expect(await h.services.applyRetention()).toBe(1);
        const left = sc<{ trials: Array<{ id: string }> }>(await h.call('trials_list', {})).trials.map(
          (t) => t.id,
        );
        expect(left).toEqual(['tri_live']);
      } finally {
        sleeper.kill();
      }
      await h.close();
      h = await startHarness({
        stateDir: state,
        clock: { now: () => Date.now() + 400 * 86_400_000 },
        env: { TASK_ORCHESTRATOR_TOOLS: 'eval', TASK_ORCHESTRATOR_RETENTION_DAYS: '0' },
      });
      expect(await h.services.applyRetention()).toBe(0);
    },
  );
});

describe.runIf(process.env.TEST_STORAGE === 'postgres')('retention on the database', () => {
  it('deletes trials older than TASK_ORCHESTRATOR_RETENTION_DAYS and keeps the rest', async () => {
    const state = await tempFolder();
    h = await startHarness({ stateDir: state, env: { TASK_ORCHESTRATOR_TOOLS: 'eval' } });
    await h.services.trials.record({
      operation: 'x',
      prompt: 'p',
      output: 'o',
      pass: true,
      score: 1,
      graders: [],
    });
    // Within the retention (default 90 days): kept.
    expect(await h.services.applyRetention()).toBe(0);
    await h.close();
    h = await startHarness({
      stateDir: state,
      clock: { now: () => Date.now() + 200 * 86_400_000 },
      env: { TASK_ORCHESTRATOR_TOOLS: 'eval' },
    });
    expect(await h.services.applyRetention()).toBe(1);
    expect(sc<{ trials: unknown[] }>(await h.call('trials_list', {})).trials).toEqual([]);
  });
});

describe('the human channel (a terminal)', () => {
  it('approves an action typed by a person in a terminal, runs it once, where it was asked for', async () => {
    const project = await tempFolder();
    await run('git', ['init', '-q'], { cwd: project });
    await fs.writeFile(path.join(project, 'junk.tmp'), 'x');
    const state = path.join(project, '.task-orchestrator');
    const env = { TASK_ORCHESTRATOR_HOME: state, TASK_ORCHESTRATOR_EXECUTE: 'on' };
    h = await startHarness({
      cwd: project,
      stateDir: state,
      env: { ...env, TASK_ORCHESTRATOR_TOOLS: 'all' },
    });
    const asked = sc<{ action_id: string; status: string }>(
      await h.call('run_with_error_capture', { command: 'git', args: ['clean', '-f'] }),
    );
    expect(asked.status).toBe('needs_approval');
    // A person who types something else decides nothing.
    const unsure = await inTerminal(project, ['approve', asked.action_id], 'no', env);
    expect(unsure.out).toMatch(/Nothing was decided/);
    await fs.access(path.join(project, 'junk.tmp'));
    // Approved from another folder (another project), it does not run there, nor anywhere.
    const elsewhere = await tempFolder();
    await run('git', ['init', '-q'], { cwd: elsewhere });
    await fs.writeFile(path.join(elsewhere, 'keep.tmp'), 'x');
    const wrong = await inTerminal(elsewhere, ['approve', asked.action_id], 'approve', env);
    expect(wrong.out).toMatch(/outside the project/);
    await fs.access(path.join(elsewhere, 'keep.tmp'));
    await fs.access(path.join(project, 'junk.tmp'));
    // That approval was consumed (it ran nowhere); ask again and approve in the right folder.
    const again = sc<{ action_id: string }>(
      await h.call('run_with_error_capture', { command: 'git', args: ['clean', '-f'] }),
    );
    const yes = await inTerminal(project, ['approve', again.action_id], 'approve', env);
    expect(yes.out).toMatch(/Approved act_.*Ran `git clean -f`: exit 0/);
    await expect(fs.access(path.join(project, 'junk.tmp'))).rejects.toThrow();
    const twice = await inTerminal(project, ['approve', again.action_id], 'approve', env);
    expect(twice.out).toMatch(/already executed/);
    const item = sc<{
      items: Array<{ id: string; status: string; executions: number; decided_via: string }>;
    }>(await h.call('inbox_status', {})).items.find((i) => i.id === again.action_id);
    expect(item).toMatchObject({ status: 'executed', executions: 1, decided_via: 'terminal' });
  });

  it('refuses a pseudo terminal inside Claude Code: its variables, or a Claude Code process above it', async () => {
    const project = await tempFolder();
    await run('git', ['init', '-q'], { cwd: project });
    await fs.writeFile(path.join(project, 'junk.tmp'), 'x');
    const state = path.join(project, '.task-orchestrator');
    const env = { TASK_ORCHESTRATOR_HOME: state, TASK_ORCHESTRATOR_EXECUTE: 'on' };
    h = await startHarness({
      cwd: project,
      stateDir: state,
      env: { ...env, TASK_ORCHESTRATOR_TOOLS: 'all' },
    });
    const asked = sc<{ action_id: string }>(
      await h.call('run_with_error_capture', { command: 'git', args: ['clean', '-f'] }),
    );
    // The agent's shell has Claude Code's variables: a pty (script) does not make it a person.
    const marked = await inTerminal(project, ['approve', asked.action_id], 'approve', {
      ...env,
      CLAUDECODE: '1',
    });
    expect(marked.out).toMatch(/inside Claude Code/);
    // Variables cleared, but the command still runs below Claude Code (a process named claude).
    const bin = path.join(project, 'bin');
    await fs.mkdir(bin);
    await fs.symlink('/bin/sh', path.join(bin, 'claude'));
    const below = await inTerminal(project, ['approve', asked.action_id], 'approve', env, [
      path.join(bin, 'claude'),
      '-c',
      '"$@"; exit $?',
      'claude',
    ]);
    expect(below.out).toMatch(/below Claude Code \(process \d+, claude\)/);
    // Nothing was decided, nothing ran.
    await fs.access(path.join(project, 'junk.tmp'));
    const item = sc<{ items: Array<{ id: string; status: string; executions: number }> }>(
      await h.call('inbox_status', {}),
    ).items.find((i) => i.id === asked.action_id);
    expect(item).toMatchObject({ status: 'pending', executions: 0 });
  });

  it('waives the gates of a task only when a person types it, and then the task completes', async () => {
    const project = await tempFolder();
    await fs.writeFile(path.join(project, 'package.json'), JSON.stringify({ scripts: { test: 'exit 1' } }));
    const state = path.join(project, '.task-orchestrator');
    h = await startHarness({ cwd: project, stateDir: state, env: { TASK_ORCHESTRATOR_TOOLS: 'task' } });
    const t = sc<{ added: Array<{ task: { id: string } }> }>(
      await h.call('tasks_add', {
        tasks: [{ title: 'gated', command_gates: [{ command: 'npm', args: ['test'] }] }],
      }),
    ).added[0]!.task.id;
    expect((await h.call('tasks_complete', { task_id: t })).isError).toBe(true);
    const waived = await inTerminal(project, ['waive-gates', t, '--reason', 'reviewed by hand'], 'waive', {
      TASK_ORCHESTRATOR_HOME: state,
    });
    expect(waived.out).toMatch(/are waived/);
    const done = sc<{ task: { status: string }; gates: Array<{ status: string }> }>(
      await h.call('tasks_complete', { task_id: t }),
    );
    expect(done).toMatchObject({ task: { status: 'completed' }, gates: [{ status: 'not_run' }] });
  });
});
