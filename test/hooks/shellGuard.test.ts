/**
 * The plugin's guard in front of Claude Code's Bash tool, as Claude Code runs it: one
 * `task-orchestrator hook PreToolUse` process per call, the event on stdin, from a throwaway
 * project. Two lists, both data (test/fixtures/shell/*.json), never run: at least 150 destructive
 * or state-changing forms (each must be denied or put to the person), and at least 200 everyday
 * developer commands (at most 5% asked about, none denied). Answered by the running server (the
 * warm path, as in a session) and, for one row of each family, by the hook process alone.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { track } from '../helpers/processes.js';

const cli = path.resolve(import.meta.dirname, '../../dist/cli.js');
const fixtures = path.resolve(import.meta.dirname, '../fixtures/shell');

interface Row {
  family: string;
  expect: 'deny' | 'ask';
  command?: string;
  tool?: string;
  file_path?: string;
  cwd?: 'outside';
  build?: { prefix: string; repeat: string; times: number; middle: string; close?: string; suffix: string };
}
const destructive = JSON.parse(readFileSync(path.join(fixtures, 'destructive.json'), 'utf8')) as {
  rows: Row[];
  files: Record<string, string>;
};
const everyday = (
  JSON.parse(readFileSync(path.join(fixtures, 'everyday.json'), 'utf8')) as { commands: string[] }
).commands;

let root: string;
let project: string;
let outside: string;
let home: string;
let server: ChildProcess | undefined;

const env = () => ({ PATH: process.env.PATH ?? '', HOME: home, CLAUDE_PROJECT_DIR: project });

type Decision = 'deny' | 'ask' | 'none';

/** One PreToolUse event through the real hook process; what it decided, and why. */
function hook(
  input: Record<string, unknown>,
): Promise<{ decision: Decision; reason: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [cli, 'hook', 'PreToolUse'],
      { cwd: project, env: env(), maxBuffer: 8 * 1024 * 1024 },
      (_error, stdout) => {
        const out = stdout.trim()
          ? (JSON.parse(stdout) as {
              hookSpecificOutput?: { permissionDecision?: Decision; permissionDecisionReason?: string };
            })
          : {};
        resolve({
          decision: out.hookSpecificOutput?.permissionDecision ?? 'none',
          reason: out.hookSpecificOutput?.permissionDecisionReason ?? '',
          stdout,
        });
      },
    );
    child.stdin?.end(JSON.stringify({ hook_event_name: 'PreToolUse', session_id: 'guard-test', ...input }));
  });
}

const fill = (text: string) =>
  text.replaceAll('{project}', project).replaceAll('{cli}', cli).replace(/^~\//, `${home}/`);

function eventOf(row: Row): Record<string, unknown> {
  const cwd = row.cwd === 'outside' ? outside : project;
  if (row.tool) return { tool_name: row.tool, tool_input: { file_path: fill(row.file_path!) }, cwd };
  const b = row.build;
  const command = b
    ? `${b.prefix}${b.repeat.repeat(b.times)}${b.middle}${(b.close ?? '').repeat(b.close ? b.times : 0)}${b.suffix}`
    : fill(row.command!);
  return { tool_name: 'Bash', tool_input: { command }, cwd };
}

/** Runs `items` through `work`, four at a time (two cores; each item is a process). */
async function pool<T, R>(items: T[], work: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await work(items[i]!);
      }
    }),
  );
  return out;
}

const label = (row: Row) =>
  row.tool
    ? `${row.tool} ${row.file_path}`
    : row.build
      ? `${row.build.repeat.slice(0, 20)} x${row.build.times}`
      : row.command!;

beforeAll(async () => {
  root = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'to-guard-')));
  project = path.join(root, 'project');
  outside = path.join(root, 'outside');
  home = path.join(root, 'home');
  for (const dir of [
    project,
    outside,
    home,
    path.join(home, '.ssh'),
    path.join(project, '.task-orchestrator'),
    path.join(project, 'node_modules', '.bin'),
    path.join(project, 'src'),
    path.join(project, 'dist'),
    path.join(project, '.venv', 'bin'),
  ])
    await fs.mkdir(dir, { recursive: true });
  for (const [file, text] of Object.entries(destructive.files)) {
    await fs.mkdir(path.dirname(path.join(project, file)), { recursive: true });
    await fs.writeFile(path.join(project, file), text);
  }
  // What an everyday project has: installed tools, a virtualenv, a check script, sources.
  for (const bin of ['tsc', 'vitest', 'eslint', 'prettier', 'vite', 'next', 'jest'])
    await fs.writeFile(path.join(project, 'node_modules', '.bin', bin), '#!/bin/sh\n');
  await fs.writeFile(
    path.join(project, '.venv', 'bin', 'activate'),
    'VIRTUAL_ENV="$PWD/.venv"\nexport VIRTUAL_ENV\nPATH="$VIRTUAL_ENV/bin:$PATH"\nexport PATH\n',
  );
  await fs.writeFile(path.join(project, 'scripts', 'check.sh'), '#!/bin/sh\nnpm run lint && npm test\n');
  await fs.writeFile(
    path.join(project, 'package.json'),
    JSON.stringify({ name: 'p', scripts: { test: 'vitest run' } }),
  );
  await fs.writeFile(path.join(project, 'src', 'index.ts'), 'export {};\n');
  await fs.writeFile(path.join(project, '.task-orchestrator', 'inbox.json'), '{}\n');
  await fs.symlink(path.join(project, '.task-orchestrator'), path.join(project, 'link-to-state'));
  await fs.symlink(home, path.join(project, 'link-to-outside'));
  // The session's server: hooks are answered on its socket.
  server = track(
    spawn(process.execPath, [cli, 'serve'], {
      cwd: project,
      env: env(),
      stdio: ['pipe', 'ignore', 'ignore'],
    }),
  );
  const socket = path.join(project, '.task-orchestrator', 'hooks.sock');
  for (let i = 0; i < 200 && !(await fs.stat(socket).catch(() => undefined)); i++)
    await new Promise((r) => setTimeout(r, 50));
}, 60_000);

afterAll(async () => {
  server?.kill('SIGKILL');
  if (root) await fs.rm(root, { recursive: true, force: true });
});

describe('the Bash guard (hook PreToolUse)', () => {
  it(`denies or asks about each of ${destructive.rows.length} destructive forms`, async () => {
    expect(destructive.rows.length).toBeGreaterThanOrEqual(150);
    const results = await pool(destructive.rows, async (row) => ({ row, got: await hook(eventOf(row)) }));
    const wrong = results
      .filter(({ row, got }) => (row.expect === 'deny' ? got.decision !== 'deny' : got.decision === 'none'))
      .map(
        ({ row, got }) =>
          `${row.family}: ${label(row)} -> ${got.decision} (wanted ${row.expect}) ${got.stdout.slice(0, 200)}`,
      );
    expect(wrong).toEqual([]);
    // Every answer says why, in words the person can act on.
    for (const { got } of results) expect(got.reason).toMatch(/^task-orchestrator/);
  }, 240_000);

  it(`lets everyday work through: of ${everyday.length} commands at most 5% asked, none denied`, async () => {
    expect(everyday.length).toBeGreaterThanOrEqual(200);
    const results = await pool(everyday, async (command) => ({
      command,
      got: await hook({ tool_name: 'Bash', tool_input: { command }, cwd: project }),
    }));
    const denied = results
      .filter((r) => r.got.decision === 'deny')
      .map((r) => `${r.command}: ${r.got.reason}`);
    const asked = results.filter((r) => r.got.decision === 'ask').map((r) => `${r.command}: ${r.got.reason}`);
    expect(denied).toEqual([]);
    expect(asked.length, asked.join('\n')).toBeLessThanOrEqual(Math.floor(everyday.length * 0.05));
    process.stderr.write(`everyday: ${asked.length} of ${everyday.length} asked\n${asked.join('\n')}\n`);
  }, 240_000);

  it('keeps answering while long commands are read, and ends on SIGTERM', async () => {
    // Long but harmless texts at and above the length that is read (64 KiB): a pipeline of
    // thousands of stages, a command with thousands of file names, and a 1 MB command.
    const long = [
      `cat notes.txt${'|cat'.repeat(16_000)}`,
      `touch ${Array.from({ length: 8000 }, (_, i) => `f${i}`).join(' ')}`,
      `echo ${'a'.repeat(1024 * 1024)}`,
    ];
    const slow = long.map((command) => hook({ tool_name: 'Bash', tool_input: { command }, cwd: project }));
    const quick = await hook({
      tool_name: 'Bash',
      tool_input: { command: 'git push --force origin main' },
      cwd: project,
    });
    expect(quick.decision).toBe('deny');
    const answers = await Promise.all(slow);
    // Every one was decided by the server (the 1 MB one unread: the person decides).
    expect(answers.map((a) => a.decision)).toEqual(['none', 'none', 'ask']);
    const exited = new Promise<number | null>((resolve) =>
      server!.once('exit', (_code, signal) => resolve(signal ? 0 : _code)),
    );
    server!.kill('SIGTERM');
    await expect(exited).resolves.toBe(0);
  }, 60_000);

  it('answers the same without a running server (one row of each family)', async () => {
    const firsts = [...new Map(destructive.rows.filter((r) => !r.build).map((r) => [r.family, r])).values()];
    server?.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    const results = await pool(firsts, async (row) => ({ row, got: await hook(eventOf(row)) }));
    const wrong = results
      .filter(({ row, got }) => (row.expect === 'deny' ? got.decision !== 'deny' : got.decision === 'none'))
      .map(({ row, got }) => `${label(row)} -> ${got.decision}`);
    expect(firsts.length).toBeGreaterThan(15);
    expect(wrong).toEqual([]);
  }, 120_000);
});
