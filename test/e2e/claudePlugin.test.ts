/**
 * The plugin in the real Claude Code CLI: installed from a copy of this repo through
 * `claude plugin marketplace add` + `claude plugin install` in a throwaway HOME, then `claude -p`
 * sessions against a loopback model that this test plays (it answers each request with a
 * scripted tool_use or text, over Anthropic's streaming wire format, and records every request).
 */
import { execFile, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sc, startHarness } from '../helpers/harness.js';

const run = promisify(execFile);
const repo = path.resolve(import.meta.dirname, '../..');
const claude = path.join(repo, 'node_modules/.bin/claude');

interface Turn {
  /** A Bash command the model runs, or the final text. */
  bash?: string;
  text?: string;
}

/** The model: per session, the turns to play in order; every request it got. */
class ScriptedModel {
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

let root: string;
let home: string;
let project: string;
const model = new ScriptedModel();

/** A copy of the plugin as users get it: manifests, hooks, commands, the build, data and runtime dependencies. */
async function pluginCopy(dir: string) {
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

async function session(prompt: string, turns: Turn[], extraEnv: Record<string, string> = {}) {
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

beforeAll(async () => {
  root = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'to-plugin-')));
  home = path.join(root, 'home');
  project = path.join(root, 'project');
  const plugin = path.join(root, 'plugin');
  await Promise.all([fs.mkdir(home), fs.mkdir(project), fs.mkdir(plugin)]);
  await pluginCopy(plugin);
  await model.start();
  const env = { PATH: process.env.PATH ?? '', HOME: home };
  await run(claude, ['plugin', 'validate', plugin], { env });
  await run(claude, ['plugin', 'marketplace', 'add', plugin], { env, cwd: project });
  await run(claude, ['plugin', 'install', 'task-orchestrator@task-orchestrator'], { env, cwd: project });
}, 180_000);

afterAll(async () => {
  await new Promise((resolve) => model.server?.close(resolve));
  await fs.rm(root, { recursive: true, force: true });
});

describe('the Claude Code plugin', () => {
  it('learns a failed command, guards the reworded request, denies a force push, grades the answer', async () => {
    expect.hasAssertions();
    // Session 1: a Bash command fails; the answer is graded.
    const first = await session(
      'Run the unit tests of the billing module',
      [{ bash: 'ls ./billing-module-tests' }, { text: 'The billing module has no tests folder yet.' }],
      // Judges for the Stop grade are asked for; otherwise nothing leaves the machine.
      { TASK_ORCHESTRATOR_HOOK_GRADE: 'judges' },
    );
    expect(first.code, first.stderr).toBe(0);
    const h = await startHarness({
      stateDir: path.join(project, '.task-orchestrator'),
      cwd: project,
      env: { TASK_ORCHESTRATOR_TOOLS: 'all' },
    });
    try {
      const patterns = sc<{
        patterns: Array<{ operation: string; source?: string; prompt_summary: string }>;
      }>(await h.call('immune_failures', { source: 'claude_code' })).patterns;
      expect(patterns).toHaveLength(1);
      expect(patterns[0]).toMatchObject({ operation: 'claude_code:Bash', source: 'claude_code' });
      expect(patterns[0]!.prompt_summary).toMatch(
        /Run the unit tests of the billing module[\s\S]*ls \.\/billing-module-tests/,
      );
      const trials = sc<{ trials: Array<{ operation: string; source: string; pass: boolean }> }>(
        await h.call('trials_list', { source: 'claude_code' }),
      ).trials;
      expect(trials.map((t) => t.operation).sort()).toEqual(['claude_code:Bash', 'claude_code:answer']);
      expect(trials.find((t) => t.operation === 'claude_code:answer')?.pass).toBe(true);
      // Asked for, with a provider in the environment (Claude Code's own), the answer was judged as well.
      expect(model.judged).toBe(1);
    } finally {
      await h.close();
    }

    // Session 2: the same thing asked again in other words: the model's first request carries the guardrail.
    const second = await session("Please run the billing module's unit tests", [
      { text: 'I will check the folder first.' },
    ]);
    expect(second.code, second.stderr).toBe(0);
    const firstRequest = JSON.stringify(second.requests.find((r) => Array.isArray(r.tools)));
    expect(firstRequest).toContain('task-orchestrator failure memory');
    expect(firstRequest).toContain('ls ./billing-module-tests');

    // Session 3: a force push is denied before it runs (the marker would be written first).
    const marker = path.join(root, 'pushed');
    const third = await session('Publish the release', [
      { bash: `touch ${marker} && git push --force origin main` },
      { text: 'The push was refused.' },
    ]);
    expect(third.code, third.stderr).toBe(0);
    await expect(fs.access(marker)).rejects.toThrow();
    // The model was told why, in the tool result of its call.
    expect(JSON.stringify(third.requests)).toMatch(
      /"tool_result","content":"PreToolUse:Bash hook error: task-orchestrator blocked this command: force push/,
    );

    // Session 4: a broken state folder (a file where the folder should be): the hooks fail open.
    await fs.rename(path.join(project, '.task-orchestrator'), path.join(root, 'state-kept'));
    await fs.writeFile(path.join(project, '.task-orchestrator'), 'not a folder');
    const fourth = await session('Say hello', [{ text: 'Hello.' }]);
    expect(fourth.code, fourth.stderr).toBe(0);
    expect((JSON.parse(fourth.stdout) as { result: string }).result).toBe('Hello.');
    // Sessions 2-4 graded their answers with code graders only: no judge request reached the model.
    expect(model.judged).toBe(1);
  }, 240_000);
});
