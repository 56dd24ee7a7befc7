/**
 * Real Claude Code for tests: the plugin installed from a copy of this repo (`claude plugin
 * marketplace add` + `claude plugin install`) in a throwaway HOME, and `claude -p` sessions against a
 * loopback model that the test plays (it answers each request with a scripted tool_use or text, over
 * Anthropic's streaming wire format, and records every request).
 */
import { execFile, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const repo = path.resolve(import.meta.dirname, '../..');
export const claude = path.join(repo, 'node_modules/.bin/claude');

export interface Turn {
  /** A Bash command the model runs, or the final text. */
  bash?: string;
  text?: string;
}

/** The model: per session, the turns to play in order; every request it got. */
export class ScriptedModel {
  server!: Server;
  url = '';
  turns: Turn[] = [];
  requests: Array<Record<string, unknown>> = [];
  judged = 0;

  async start() {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        if (!req.url?.startsWith('/v1/messages')) {
          res.writeHead(404, { 'content-type': 'application/json' }).end('{}');
          return;
        }
        const j = JSON.parse(body || '{}') as Record<string, unknown>;
        if (req.url.includes('count_tokens')) {
          res.writeHead(200, { 'content-type': 'application/json' }).end('{"input_tokens": 10}');
          return;
        }
        this.requests.push(j);
        const message = {
          id: `msg_${this.requests.length}`,
          type: 'message',
          role: 'assistant',
          model: j.model,
          content: [],
          stop_reason: null,
          usage: { input_tokens: 10, output_tokens: 1 },
        };
        // The Stop hook's judge (Claude Code's own key and endpoint are in the hook's environment).
        const last = JSON.stringify((j.messages as unknown[] | undefined)?.at(-1) ?? '');
        const judge = last.includes('You are a strict evaluator');
        if (judge) this.judged++;
        // Side requests (no tools: titles, summaries) get a short text; the session's turns go in order.
        const turn: Turn = judge
          ? { text: '{"score": 0.9, "reason": "answers the request"}' }
          : Array.isArray(j.tools) && j.tools.length > 0
            ? (this.turns.shift() ?? { text: 'Done.' })
            : { text: 'ok' };
        if (!j.stream) {
          res.writeHead(200, { 'content-type': 'application/json' }).end(
            JSON.stringify({
              ...message,
              content: [{ type: 'text', text: turn.text ?? 'ok' }],
              stop_reason: 'end_turn',
            }),
          );
          return;
        }
        const events: Array<[string, Record<string, unknown>]> = [['message_start', { message }]];
        if (turn.bash) {
          events.push(
            [
              'content_block_start',
              {
                index: 0,
                content_block: {
                  type: 'tool_use',
                  id: `toolu_${this.requests.length}`,
                  name: 'Bash',
                  input: {},
                },
              },
            ],
            [
              'content_block_delta',
              {
                index: 0,
                delta: {
                  type: 'input_json_delta',
                  partial_json: JSON.stringify({ command: turn.bash, description: 'run it' }),
                },
              },
            ],
            ['content_block_stop', { index: 0 }],
            ['message_delta', { delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 5 } }],
          );
        } else {
          events.push(
            ['content_block_start', { index: 0, content_block: { type: 'text', text: '' } }],
            ['content_block_delta', { index: 0, delta: { type: 'text_delta', text: turn.text ?? 'Done.' } }],
            ['content_block_stop', { index: 0 }],
            ['message_delta', { delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 3 } }],
          );
        }
        events.push(['message_stop', {}]);
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        for (const [type, data] of events)
          res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
        res.end();
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
}

/** A copy of the plugin as users get it: manifests, hooks, commands, the build, data and runtime dependencies. */
export async function pluginCopy(dir: string) {
  for (const entry of ['.claude-plugin', 'hooks', 'commands', 'dist', 'data', 'models', 'package.json'])
    await fs.cp(path.join(repo, entry), path.join(dir, entry), { recursive: true });
  const { stdout } = await run('npm', ['ls', '--omit=dev', '--parseable', '--all'], {
    cwd: repo,
    maxBuffer: 16 * 1024 * 1024,
  }).catch((e: { stdout: string }) => ({ stdout: e.stdout }));
  const top = new Set(
    stdout
      .split('\n')
      .map((p) => path.relative(path.join(repo, 'node_modules'), p))
      .filter((p) => p && !p.startsWith('..'))
      .map((p) =>
        p
          .split(path.sep)
          .slice(0, p.startsWith('@') ? 2 : 1)
          .join(path.sep),
      ),
  );
  for (const name of top)
    await fs.cp(path.join(repo, 'node_modules', name), path.join(dir, 'node_modules', name), {
      recursive: true,
    });
}

export interface ClaudeWorld {
  model: ScriptedModel;
  home: string;
  project: string;
}

/** Validates and installs a copy of the plugin for a throwaway HOME, used from `project`. */
export async function installPlugin(root: string, model: ScriptedModel): Promise<ClaudeWorld> {
  const home = path.join(root, 'home');
  const project = path.join(root, 'project');
  const plugin = path.join(root, 'plugin');
  await Promise.all([fs.mkdir(home), fs.mkdir(project), fs.mkdir(plugin)]);
  await pluginCopy(plugin);
  await model.start();
  const env = { PATH: process.env.PATH ?? '', HOME: home };
  await run(claude, ['plugin', 'validate', plugin], { env });
  await run(claude, ['plugin', 'marketplace', 'add', plugin], { env, cwd: project });
  await run(claude, ['plugin', 'install', 'task-orchestrator@task-orchestrator'], { env, cwd: project });
  return { model, home, project };
}

/** One `claude -p` session in the world's project: the model plays `turns`; returns what it was sent. */
export async function session(
  world: ClaudeWorld,
  prompt: string,
  turns: Turn[],
  extraEnv: Record<string, string> = {},
) {
  const { model, home, project } = world;
  model.turns = [...turns];
  const before = model.requests.length;
  const child = spawn(claude, ['-p', prompt, '--allowedTools', 'Bash', '--output-format', 'json'], {
    cwd: project,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: home,
      ANTHROPIC_BASE_URL: model.url,
      ANTHROPIC_API_KEY: 'sk-ant-plugin-test',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { code, stdout, stderr, requests: model.requests.slice(before) };
}
