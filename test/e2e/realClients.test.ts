/**
 * The server under the clients people use: Claude Code's own `claude mcp add` / `claude mcp list`
 * (which starts the server and runs a health check), and the MCP Inspector CLI. Both work offline.
 * Claude Code 2.1.197 is the last release whose package allows Node 20.
 */
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { track } from '../helpers/processes.js';

const root = path.resolve(import.meta.dirname, '../..');
const cli = path.join(root, 'dist/cli.js');
const claude = path.join(root, 'node_modules/.bin/claude');
const inspector = path.join(root, 'node_modules/.bin/mcp-inspector-cli');

let work: string;
beforeEach(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'to-clients-'));
  await fs.mkdir(path.join(work, 'home'));
  await fs.mkdir(path.join(work, 'project'));
});
afterEach(async () => {
  await fs.rm(work, { recursive: true, force: true, maxRetries: 5 });
});

function run(command: string, args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = track(
      spawn(command, args, {
        cwd: path.join(work, 'project'),
        env: {
          PATH: process.env.PATH ?? '',
          HOME: path.join(work, 'home'),
          CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
          DISABLE_AUTOUPDATER: '1',
          ...env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('Claude Code', () => {
  it('registers the server with the README line and connects to it', async () => {
    const add = await run(claude, ['mcp', 'add', 'task-orchestrator', '--', 'node', cli, 'serve']);
    expect(add.code, add.stderr).toBe(0);
    expect(add.stdout).toContain('Added stdio MCP server task-orchestrator');
    const list = await run(claude, ['mcp', 'list']);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/task-orchestrator: node .*dist\/cli\.js serve - ✔ Connected/);
    // The health check started the server in the project folder: its state lives there.
    await expect(fs.access(path.join(work, 'project', '.task-orchestrator'))).resolves.toBeUndefined();
  }, 60_000);
});

describe('Claude Code over HTTP', () => {
  it('connects to serve --http with a minted bearer token, and fails without one', async () => {
    const secret = 'claude-http-secret-0123456789abcdef012345';
    const server = track(
      spawn(process.execPath, [cli, 'serve', '--http', '--port', '0'], {
        cwd: path.join(work, 'project'),
        env: { PATH: process.env.PATH ?? '', JWT_SECRET_KEY: secret, TASK_ORCHESTRATOR_CLAUDE_CLI: 'off' },
        stdio: ['ignore', 'ignore', 'pipe'],
      }),
    );
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let err = '';
        server.stderr.on('data', (d: Buffer) => {
          err += d.toString();
          const m = /MCP over HTTP at (http:\/\/\S+)/.exec(err);
          if (m) resolve(m[1]!);
        });
        server.on('exit', (code) => reject(new Error(`server exited ${code}: ${err}`)));
      });
      const minted = await run(process.execPath, [cli, 'token', '--sub', 'claude-user'], {
        JWT_SECRET_KEY: secret,
      });
      expect(minted.code, minted.stderr).toBe(0);
      const token = minted.stdout.trim();
      const add = await run(claude, [
        'mcp',
        'add',
        '--transport',
        'http',
        'to-http',
        url,
        '--header',
        `Authorization: Bearer ${token}`,
      ]);
      expect(add.code, add.stderr).toBe(0);
      expect((await run(claude, ['mcp', 'add', '--transport', 'http', 'to-noauth', url])).code).toBe(0);
      const list = await run(claude, ['mcp', 'list']);
      expect(list.stdout).toMatch(/to-http: http:\/\/127\.0\.0\.1:\d+\/mcp \(HTTP\) - ✔ Connected/);
      expect(list.stdout).toMatch(/to-noauth: .* - ✘/);
    } finally {
      const exited = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGTERM');
      await exited;
    }
  }, 90_000);
});

describe('MCP Inspector CLI', () => {
  async function inspect(args: string[], env: string[] = []) {
    const r = await run(inspector, [
      '--cli',
      ...env.flatMap((e) => ['-e', e]),
      'node',
      cli,
      'serve',
      ...args,
    ]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  }

  it('lists the core tools, loads a category, and gets isError for bad input', async () => {
    const list = (await inspect(['--method', 'tools/list'])) as { tools: Array<{ name: string }> };
    expect(list.tools.map((t) => t.name).sort()).toEqual([
      'healing_status',
      'request_tool',
      'spawn_agent',
      'tasks_add',
      'tasks_list',
    ]);
    const load = (await inspect(
      ['--method', 'tools/call', '--tool-name', 'request_tool', '--tool-arg', 'category=agent'],
      ['TASK_ORCHESTRATOR_LIST_CHANGED_WAIT_MS=200'],
    )) as { structuredContent: { action: string } };
    expect(load.structuredContent.action).toBe('loaded');
    const bad = (await inspect(
      [
        '--method',
        'tools/call',
        '--tool-name',
        'audit_append',
        '--tool-arg',
        'entry_type=opinion',
        '--tool-arg',
        'content=x',
      ],
      ['TASK_ORCHESTRATOR_TOOLS=agent'],
    )) as { isError: boolean; content: Array<{ text: string }> };
    expect(bad.isError).toBe(true);
    expect(bad.content[0]?.text).toMatch(/entry_type/);
    const good = (await inspect(
      [
        '--method',
        'tools/call',
        '--tool-name',
        'audit_append',
        '--tool-arg',
        'entry_type=decision',
        '--tool-arg',
        'content=via inspector',
      ],
      ['TASK_ORCHESTRATOR_TOOLS=agent'],
    )) as { structuredContent: { entry: { actor: string } } };
    expect(good.structuredContent.entry.actor).toMatch(/^inspector-cli\//);
  }, 60_000);
});
