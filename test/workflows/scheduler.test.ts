/**
 * The scheduler through MCP: jobs persist across a restart, only the lease holder runs them when
 * two servers share the state folder (each due run happens once), commands are classified before
 * they can be scheduled, cron and intervals keep their rhythm.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ExecBoundary } from '../../src/safety/exec.js';
import { nextRun } from '../../src/workflows/scheduler.js';
import { sc, startHarness, textOf } from '../helpers/harness.js';
import type { Harness } from '../helpers/harness.js';

let project: string;
let now: number;
const clock = { now: () => now };
let calls: string[];
const open: Harness[] = [];
const spy: ExecBoundary = {
  run({ file, args }) {
    calls.push([file, ...args].join(' '));
    return Promise.resolve({
      exit_code: 0,
      signal: null,
      stdout: '',
      stderr: '',
      timed_out: false,
      truncated: false,
    });
  },
};

beforeEach(async () => {
  calls = [];
  now = Date.parse('2026-11-22T10:00:00.000Z');
  project = await fs.mkdtemp(path.join(os.tmpdir(), 'to-sched-'));
});
afterEach(async () => {
  for (const h of open.splice(0)) await h.close();
  await fs.rm(project, { recursive: true, force: true });
});

async function server() {
  const h = await startHarness({
    env: { TASK_ORCHESTRATOR_TOOLS: 'workflow', TASK_ORCHESTRATOR_EXECUTE: 'on' },
    cwd: project,
    stateDir: path.join(project, '.state'),
    execBoundary: spy,
    clock,
  });
  open.push(h);
  return h;
}

interface Job {
  id: string;
  next_run: string | null;
  status: string;
  run_count: number;
  runs: Array<{ status: string; ok: boolean }>;
}

describe('scheduler', () => {
  it('survives a restart and keeps the rhythm of an interval', async () => {
    const first = await server();
    const job = sc<Job>(
      await first.call('schedule_task', { command: { command: 'npm', args: ['test'] }, every: '1m' }),
    );
    expect(job.next_run).toBe('2026-11-22T10:01:00.000Z');
    await first.close();
    open.splice(open.indexOf(first), 1);

    // Five and a half minutes later a new server starts: the overdue job runs once, then on rhythm.
    now += 330_000;
    const second = await server();
    expect(await second.services.scheduler.tick()).toEqual([job.id]);
    await second.services.scheduler.idle();
    expect(calls).toEqual(['npm test']);
    const listed = sc<{ jobs: Job[] }>(await second.call('list_scheduled_tasks', {})).jobs[0]!;
    expect(listed).toMatchObject({
      run_count: 1,
      next_run: '2026-11-22T10:06:00.000Z',
      runs: [{ status: 'executed', ok: true }],
    });
    expect(await second.services.scheduler.tick()).toEqual([]);
    now += 30_000;
    expect(await second.services.scheduler.tick()).toEqual([job.id]);
    await second.services.scheduler.idle();
    expect(calls).toHaveLength(2);
  });

  it('runs each due job once when two servers share the folder (the lease holder runs it)', async () => {
    const a = await server();
    const b = await server();
    const job = sc<Job>(
      await a.call('schedule_task', {
        command: { command: 'make', args: ['report'] },
        run_at: '2026-11-22T10:00:30Z',
      }),
    );
    now += 31_000;
    const [ranA, ranB] = await Promise.all([a.services.scheduler.tick(), b.services.scheduler.tick()]);
    await Promise.all([a.services.scheduler.idle(), b.services.scheduler.idle()]);
    expect([...ranA, ...ranB]).toEqual([job.id]);
    expect(calls).toEqual(['make report']);
    expect(sc<{ jobs: Job[] }>(await b.call('list_scheduled_tasks', {})).jobs[0]).toMatchObject({
      status: 'done',
      run_count: 1,
    });
    // The holder stops: after its lease lapses the other takes over.
    const holder = ranA.length ? a : b;
    const other = holder === a ? b : a;
    sc(await other.call('schedule_task', { command: { command: 'make', args: ['again'] }, every: '30s' }));
    await holder.services.scheduler.stop();
    now += 31_000;
    expect(await other.services.scheduler.tick()).toHaveLength(1);
    await other.services.scheduler.idle();
    expect(calls).toEqual(['make report', 'make again']);
  });

  it('refuses blocked, approval-needing and unknown commands, bad times; cancels', async () => {
    const h = await server();
    const blocked = await h.call('schedule_task', {
      command: { command: 'rm', args: ['-rf', '/'] },
      every: '1h',
    });
    expect(textOf(blocked)).toMatch(/Cannot schedule `rm -rf \/`: blocked/);
    const risky = await h.call('schedule_task', {
      command: { command: 'git', args: ['reset', '--hard'] },
      every: '1h',
    });
    expect(textOf(risky)).toMatch(/needs approval.*run_with_error_capture/);
    expect(
      textOf(await h.call('schedule_task', { command: { command: 'python3', args: ['x.py'] }, every: '1h' })),
    ).toMatch(/not an allowed program/);
    expect(
      textOf(await h.call('schedule_task', { command: { command: 'npm', args: [] }, cron: 'every day' })),
    ).toMatch(/Invalid cron expression/);
    expect(
      textOf(
        await h.call('schedule_task', {
          command: { command: 'npm', args: [] },
          every: '1m',
          cron: '* * * * *',
        }),
      ),
    ).toMatch(/exactly one of run_at, every or cron/);
    const job = sc<Job>(
      await h.call('schedule_task', { spawn: { prompt: 'Daily summary' }, cron: '0 9 * * *' }),
    );
    expect(job.next_run).toBe('2026-11-23T09:00:00.000Z');
    expect(sc<Job>(await h.call('cancel_scheduled_task', { id: job.id })).status).toBe('cancelled');
    expect(textOf(await h.call('cancel_scheduled_task', { id: job.id }))).toMatch(/already cancelled/);
    now += 2 * 86_400_000;
    expect(await h.services.scheduler.tick()).toEqual([]);
  });

  it('computes next runs', () => {
    const t = Date.parse('2026-11-22T10:00:00.000Z');
    expect(nextRun({ every_s: 60 }, t)).toBe('2026-11-22T10:01:00.000Z');
    expect(nextRun({ every_s: 60 }, t + 150_000, t)).toBe('2026-11-22T10:03:00.000Z');
    expect(nextRun({ cron: '*/15 * * * *' }, t + 1)).toBe('2026-11-22T10:15:00.000Z');
    expect(nextRun({ run_at: '2026-11-23T00:00:00.000Z' }, t)).toBe('2026-11-23T00:00:00.000Z');
    expect(nextRun({ run_at: '2026-11-23T00:00:00.000Z' }, t, t)).toBeNull();
  });
});
