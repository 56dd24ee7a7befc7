/** Starts `task-orchestrator dashboard` for the review-desk tests: as a person would (in a pseudo terminal, script -q), or as an agent would (no terminal). */
import { prepareStorage, storageEnv } from '../helpers/storageEnv.js';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { track } from '../helpers/processes.js';

const cli = path.resolve(import.meta.dirname, '../../dist/cli.js');

export interface Desk {
  child: ChildProcess;
  out: () => string;
  /** http://127.0.0.1:<port> */
  base: string;
  /** The link with the desk token (printed only to a terminal). */
  link?: string;
}

export async function startDesk(stateDir: string, tty: boolean): Promise<Desk> {
  await prepareStorage(stateDir);
  const env = {
    PATH: process.env.PATH ?? '',
    TASK_ORCHESTRATOR_HOME: stateDir,
    ...storageEnv(stateDir),
    TASK_ORCHESTRATOR_CLAUDE_CLI: 'off',
  };
  // In a group of its own and tracked: stopped with the test file even if the test fails first.
  const child = track(
    tty
      ? spawn('script', ['-qfec', `${process.execPath} ${cli} dashboard --port 0`, '/dev/null'], {
          env,
          stdio: ['pipe', 'pipe', 'pipe'],
          detached: true,
        })
      : spawn(process.execPath, [cli, 'dashboard', '--port', '0'], {
          env,
          stdio: ['ignore', 'pipe', 'pipe'],
          detached: true,
        }),
  );
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d: string) => (out += d));
  for (let i = 0; i < 200 && !/review desk/.test(out); i++) await new Promise((r) => setTimeout(r, 50));
  const base = /http:\/\/127\.0\.0\.1:\d+/.exec(out)?.[0];
  if (!base) throw new Error(`dashboard did not start: ${out}`);
  const link = /http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{48}/.exec(out)?.[0];
  return { child, out: () => out, base, ...(link ? { link } : {}) };
}

export async function stopDesk(desk: Desk): Promise<void> {
  const exited = new Promise((resolve) => desk.child.once('exit', resolve));
  desk.child.kill('SIGTERM');
  await exited;
}
