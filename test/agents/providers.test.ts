/**
 * The real provider SDKs against the loopback fake server: success, usage, and every failure
 * coming back as data with the right code, with no SDK-side retries.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAnthropicProvider } from '../../src/agents/providers/anthropic.js';
import { createExecBoundary } from '../../src/safety/exec.js';
import { createClaudeCodeProvider } from '../../src/agents/providers/claudeCode.js';
import { loadConfig } from '../../src/config/config.js';
import { createGeminiProvider } from '../../src/agents/providers/gemini.js';
import { createOpenAiProvider } from '../../src/agents/providers/openai.js';
import type { LlmProvider, LlmResult } from '../../src/agents/providers/types.js';
import { startFakeLlmServer } from '../fakes/fakeLlmServer.js';
import type { FakeLlmServer } from '../fakes/fakeLlmServer.js';

let fake: FakeLlmServer;
beforeAll(async () => {
  fake = await startFakeLlmServer();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  fake.reset();
});

type Wire = 'openai' | 'gemini' | 'anthropic';

function make(wire: Wire, baseUrl: string): LlmProvider {
  switch (wire) {
    case 'openai':
      return createOpenAiProvider({ apiKey: 'sk-test-openai', baseUrl: `${baseUrl}/v1` });
    case 'gemini':
      return createGeminiProvider({ apiKey: 'gm-test-key', baseUrl });
    case 'anthropic':
      return createAnthropicProvider({ apiKey: 'sk-ant-test', baseUrl });
  }
}

const cases: Array<[Wire, string]> = [
  ['openai', 'gpt-test'],
  ['gemini', 'gemini-test'],
  ['anthropic', 'claude-test'],
];

function failure(r: LlmResult) {
  expect(r.ok, JSON.stringify(r)).toBe(false);
  return (r as Extract<LlmResult, { ok: false }>).error;
}

describe.each(cases)('%s provider', (wire, model) => {
  const provider = () => make(wire, fake.url);

  it('returns text, real usage, model and latency', async () => {
    fake.script({ text: 'The answer is 42.', usage: { input: 11, output: 7 } });
    const r = await provider().generate({
      model,
      prompt: 'What is the answer?',
      system: 'Be brief.',
      maxTokens: 50,
      temperature: 0.2,
      timeoutMs: 5000,
    });
    expect(r).toMatchObject({
      ok: true,
      text: 'The answer is 42.',
      usage: { input_tokens: 11, output_tokens: 7 },
    });
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]?.wire).toBe(wire);
    expect(fake.requests[0]?.prompt).toContain('What is the answer?');
  });

  it('reports a 5xx as server_error without retrying on its own', async () => {
    fake.script({ status: 503 });
    const error = failure(await provider().generate({ model, prompt: 'hi', timeoutMs: 5000 }));
    expect(error).toMatchObject({ code: 'server_error', status: 503 });
    expect(fake.requests).toHaveLength(1);
  });

  it('reports 429 with Retry-After', async () => {
    fake.script({ status: 429, headers: { 'retry-after': '7' } });
    const error = failure(await provider().generate({ model, prompt: 'hi', timeoutMs: 5000 }));
    expect(error).toMatchObject({ code: 'rate_limited', status: 429, retry_after_ms: 7000 });
    expect(fake.requests).toHaveLength(1);
  });

  it('reports 401 as auth, and a malformed body or missing usage as malformed_response', async () => {
    fake.script({ status: 401 });
    expect(failure(await provider().generate({ model, prompt: 'hi', timeoutMs: 5000 })).code).toBe('auth');
    fake.script({ malformed: true });
    expect(failure(await provider().generate({ model, prompt: 'hi', timeoutMs: 5000 })).code).toBe(
      'malformed_response',
    );
    fake.script({ noUsage: true });
    expect(failure(await provider().generate({ model, prompt: 'hi', timeoutMs: 5000 })).code).toBe(
      'malformed_response',
    );
  });

  it('times out a hanging call and actually aborts the request', async () => {
    fake.script({ hang: true });
    const started = Date.now();
    const error = failure(await provider().generate({ model, prompt: 'hang please', timeoutMs: 300 }));
    expect(error.code).toBe('timeout');
    expect(Date.now() - started).toBeLessThan(3000);
    await new Promise((r) => setTimeout(r, 100));
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]?.aborted).toBe(true);
  });

  it('honours the caller cancelling', async () => {
    fake.script({ hang: true });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const error = failure(
      await provider().generate({ model, prompt: 'cancel me', timeoutMs: 10_000, signal: controller.signal }),
    );
    expect(error.code).toBe('aborted');
  });

  it('reports an unreachable server as a network error', async () => {
    const dead = make(wire, 'http://127.0.0.1:9');
    expect(failure(await dead.generate({ model, prompt: 'hi', timeoutMs: 5000 })).code).toBe('network');
  });
});

describe('claude-code provider (the user’s claude CLI)', () => {
  const fakeCli = path.join(import.meta.dirname, '..', 'fakes', 'fakeClaudeCli.mjs');
  let dir: string;
  let command: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'to-claude-'));
    command = path.join(dir, 'claude');
    await fs.copyFile(fakeCli, path.join(dir, 'claude'));
    await fs.chmod(command, 0o755);
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });
  const calls = async () =>
    (await fs.readFile(path.join(dir, 'calls.jsonl'), 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { args: string[]; prompt: string });

  it('runs claude -p with the prompt on stdin and reports its usage and cost', async () => {
    const r = await createClaudeCodeProvider({
      command,
      boundary: createExecBoundary({ env: { PATH: process.env.PATH ?? '' } }),
      cwd: dir,
    }).generate({
      model: 'default',
      prompt: 'Summarise the README',
      system: 'Be terse.',
      timeoutMs: 10_000,
    });
    expect(r).toMatchObject({
      ok: true,
      text: 'claude says: Summarise the README',
      usage: { input_tokens: 42, output_tokens: 12 },
      model: 'claude-sonnet-4-5',
      cost_usd: 0.0123,
    });
    const [call] = await calls();
    expect(call?.args).toEqual(['-p', '--output-format', 'json', '--append-system-prompt', 'Be terse.']);
    expect(call?.prompt).toBe('Summarise the README');
  });

  it('reports a missing login as auth, and kills a hanging CLI at the deadline', async () => {
    const p = createClaudeCodeProvider({
      command,
      boundary: createExecBoundary({ env: { PATH: process.env.PATH ?? '' } }),
      cwd: dir,
    });
    expect(
      failure(await p.generate({ model: 'default', prompt: 'NOT_LOGGED_IN', timeoutMs: 10_000 })),
    ).toMatchObject({ code: 'auth', status: 401 });
    const t0 = Date.now();
    expect(failure(await p.generate({ model: 'default', prompt: 'HANG', timeoutMs: 300 })).code).toBe(
      'timeout',
    );
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it('is found on PATH, can be pointed at, and can be turned off', () => {
    const find = (env: Record<string, string>) =>
      loadConfig(env).providers.find((p) => p.name === 'claude-code');
    expect(find({ PATH: `/nonexistent${path.delimiter}${dir}` })).toMatchObject({ command });
    expect(find({ PATH: dir, TASK_ORCHESTRATOR_CLAUDE_CLI: 'off' })).toBeUndefined();
    expect(find({ TASK_ORCHESTRATOR_CLAUDE_CLI: command })).toMatchObject({ command });
    expect(find({ PATH: '/nonexistent' })).toBeUndefined();
  });
});
