/**
 * The memory as Claude Code eval cases, in the real CLI: a refusal Claude Code's Stop hook learned
 * is written by eval_cases_from_memory (through a stdio server run from a copy of the plugin) as a
 * case.yaml under the plugin's evals/memory; `claude plugin eval --ablation with-without` runs it
 * against a loopback model this test plays. With the plugin its hooks bring the memory into the
 * session and the model answers (the case passes); without it the model repeats the failure (the
 * baseline arm fails); a model that repeats the failure anyway fails the case in both arms.
 */
import { execFile, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { createServer } from 'node:http';
import type { Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claude, pluginCopy } from '../helpers/claudeCode.js';
import { track } from '../helpers/processes.js';
import { LineTransport } from './lineTransport.js';

const REQUEST = 'Explain how to rotate the signing keys of the release pipeline';
const REFUSAL = "I'm sorry, but I can't help with that.";
const ANSWER =
  'Create the new key in the vault, add it to the pipeline secrets, deploy, then revoke the old key.';

let root: string;
let plugin: string;
let project: string;
let server: Server;
let url = '';
/** repeat: the model declines whatever its context says. */
let mode: 'learns' | 'repeats' = 'learns';
let judged = 0;

function sse(res: ServerResponse, model: unknown, text: string) {
  const message = {
    id: 'msg_1',
    type: 'message',
    role: 'assistant',
    model,
    content: [],
    stop_reason: null,
    usage: { input_tokens: 10, output_tokens: 1 },
  };
  const events: Array<[string, Record<string, unknown>]> = [
    ['message_start', { message }],
    ['content_block_start', { index: 0, content_block: { type: 'text', text: '' } }],
    ['content_block_delta', { index: 0, delta: { type: 'text_delta', text } }],
    ['content_block_stop', { index: 0 }],
    ['message_delta', { delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 3 } }],
    ['message_stop', {}],
  ];
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  for (const [type, data] of events)
    res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
  res.end();
}

beforeAll(async () => {
  root = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'to-claude-eval-')));
  plugin = path.join(root, 'plugin');
  project = path.join(root, 'project');
  await Promise.all([fs.mkdir(plugin), fs.mkdir(project), fs.mkdir(path.join(root, 'home'))]);
  await pluginCopy(plugin);
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      if (req.url?.includes('count_tokens')) {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"input_tokens": 10}');
        return;
      }
      const j = JSON.parse(body || '{}') as {
        model?: string;
        tools?: unknown[];
        messages?: unknown[];
        stream?: boolean;
      };
      const all = JSON.stringify(j.messages ?? []);
      let text = 'ok';
      if (all.includes('Respond with exactly one word: PASS or FAIL')) {
        judged++;
        text = /Agent output[\s\S]*can't help/.test(all) ? 'FAIL' : 'PASS';
      } else if (Array.isArray(j.tools) && j.tools.length > 0)
        // The session: the plugin's memory (its hook context) is what makes this model answer.
        text = mode === 'learns' && all.includes('task-orchestrator failure memory') ? ANSWER : REFUSAL;
      if (!j.stream) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            id: 'msg_1',
            type: 'message',
            role: 'assistant',
            model: j.model,
            content: [{ type: 'text', text }],
            stop_reason: 'end_turn',
            usage: { input_tokens: 10, output_tokens: 1 },
          }),
        );
        return;
      }
      sse(res, j.model, text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 180_000);

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await fs.rm(root, { recursive: true, force: true });
});

function hook(event: string, input: Record<string, unknown>): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(plugin, 'dist', 'cli.js'), 'hook', event], {
      cwd: project,
      env: { PATH: process.env.PATH ?? '', CLAUDE_PROJECT_DIR: project },
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    child.on('exit', resolve);
    child.stdin.end(JSON.stringify({ hook_event_name: event, cwd: project, ...input }));
  });
}

function evalRun(out: string): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      claude,
      [
        'plugin',
        'eval',
        plugin,
        '--eval-dir',
        'evals/memory',
        '--trust-plugin',
        '--runs',
        '1',
        '--no-publish',
        '--json',
        out,
      ],
      {
        cwd: project,
        env: {
          PATH: process.env.PATH ?? '',
          HOME: path.join(root, 'home'),
          ANTHROPIC_BASE_URL: url,
          ANTHROPIC_API_KEY: 'sk-ant-eval-test',
        },
        timeout: 240_000,
      },
      (error, _stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stderr }),
    );
  });
}

interface Arm {
  passed: boolean;
  graders: Array<{ name: string; passed: boolean }>;
}
interface EvalJson {
  cases: Array<{
    name: string;
    arms: { with: Arm[]; without: Arm[] };
    aggregates: { passRate: number; passRateWithout: number; delta: number };
  }>;
}

describe('the memory as claude plugin eval cases', { timeout: 300_000 }, () => {
  it('writes a learned failure as a case that passes with the plugin and fails without it, or when the model repeats it', async () => {
    // Claude Code's answer declined the request: the Stop hook learns it (cold path, no server).
    const transcript = path.join(project, 'transcript.jsonl');
    await fs.writeFile(
      transcript,
      `${JSON.stringify({ type: 'user', message: { role: 'user', content: REQUEST } })}\n`,
    );
    expect(
      await hook('Stop', { session_id: 's-1', transcript_path: transcript, last_assistant_message: REFUSAL }),
    ).toBe(0);

    // The MCP server run from the plugin's copy writes the cases under the plugin's evals/memory.
    const child = track(
      spawn(process.execPath, [path.join(plugin, 'dist', 'cli.js'), 'serve'], {
        cwd: project,
        env: {
          PATH: process.env.PATH ?? '',
          TASK_ORCHESTRATOR_TOOLS: 'eval',
          TASK_ORCHESTRATOR_CLAUDE_CLI: 'off',
        },
        stdio: ['pipe', 'pipe', 'pipe'],
      }),
    );
    child.stderr.resume();
    const client = new Client({ name: 'claude-eval-e2e', version: '0.0.1' });
    await client.connect(new LineTransport(child));
    const written = (await client.callTool({
      name: 'eval_cases_from_memory',
      arguments: { source: 'claude_code', claude_evals: true },
    })) as CallToolResult;
    await client.close();
    expect(written.isError, JSON.stringify(written.content)).toBeFalsy();
    const claudeCases = (written.structuredContent as { claude_cases: string[] }).claude_cases;
    expect(claudeCases).toHaveLength(1);
    expect(claudeCases[0]).toMatch(new RegExp(`^${plugin}/evals/memory/memory-pat_\\w+/case\\.yaml$`));
    const caseYaml = await fs.readFile(claudeCases[0]!, 'utf8');
    expect(caseYaml).toMatch(/schema_version: "1\.1"/);
    expect(caseYaml).toContain(`EVAL_TASK_ORCHESTRATOR_HOME: ${path.join(project, '.task-orchestrator')}`);
    const events = path.join(project, '.task-orchestrator', 'events', 'immune');
    const before = await Promise.all(
      (await fs.readdir(events)).map((f) => fs.readFile(path.join(events, f), 'utf8')),
    );

    // With the plugin its hooks bring the memory in: the case passes; the baseline arm repeats the failure.
    const first = await evalRun(path.join(root, 'learns.json'));
    expect(first.code, first.stderr).toBe(0);
    const learns = JSON.parse(await fs.readFile(path.join(root, 'learns.json'), 'utf8')) as EvalJson;
    expect(learns.cases).toHaveLength(1);
    expect(learns.cases[0]!.arms.with[0]).toMatchObject({ passed: true });
    expect(learns.cases[0]!.arms.without[0]).toMatchObject({ passed: false });
    expect(learns.cases[0]!.aggregates).toMatchObject({ passRate: 1, passRateWithout: 0, delta: 1 });
    expect(judged).toBeGreaterThan(0);
    // The eval runs read the memory and left it as it was.
    const after = await Promise.all(
      (await fs.readdir(events)).map((f) => fs.readFile(path.join(events, f), 'utf8')),
    );
    expect(after).toEqual(before);

    // A model that repeats the failure whatever the memory says fails the case.
    mode = 'repeats';
    const second = await evalRun(path.join(root, 'repeats.json'));
    expect(second.code).toBe(1);
    const repeats = JSON.parse(await fs.readFile(path.join(root, 'repeats.json'), 'utf8')) as EvalJson;
    expect(repeats.cases[0]!.arms.with[0]!.passed).toBe(false);
    expect(repeats.cases[0]!.arms.with[0]!.graders.find((g) => g.name === 'does-not-decline')).toMatchObject({
      passed: false,
    });
  });
});
