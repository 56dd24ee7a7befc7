/**
 * spawn_agent through MCP, against the fake LLM server via the real provider SDKs: usage and cost,
 * retries, breakers, fallback, budgets (also across two servers on one state folder), tasks.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeLlmServer } from '../fakes/fakeLlmServer.js';
import type { FakeLlmServer } from '../fakes/fakeLlmServer.js';
import { sc, startHarness, textOf } from '../helpers/harness.js';
import type { Harness } from '../helpers/harness.js';

let fake: FakeLlmServer;
const open: Harness[] = [];
beforeAll(async () => {
  fake = await startFakeLlmServer();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  fake.reset();
});
afterEach(async () => {
  for (const h of open.splice(0)) {
    await h.close();
  }
});

interface Spawned {
  output: string;
  provider: string;
  model: string;
  usage: { input_tokens: number; output_tokens: number };
  cost_usd: number;
  price_basis: string;
  trail: Array<{ provider: string; outcome: string; attempts: number; error?: string }>;
  json?: { valid: boolean; violations: string[] };
  task?: { id: string; completed: boolean; violations?: string[] };
}

async function start(env: Record<string, string> = {}, extra: Parameters<typeof startHarness>[0] = {}) {
  const h = await startHarness({
    ...extra,
    env: {
      OPENAI_API_KEY: 'sk-test-spawn',
      OPENAI_BASE_URL: `${fake.url}/v1`,
      TASK_ORCHESTRATOR_RETRY_BASE_MS: '5',
      TASK_ORCHESTRATOR_TOOLS: 'cost,task',
      ...env,
    },
  });
  open.push(h);
  return h;
}

describe('spawn_agent', () => {
  it('says which variables to set when no provider is configured, and everything else still works', async () => {
    const h = await startHarness({ env: { TASK_ORCHESTRATOR_TOOLS: 'cost' } });
    open.push(h);
    const r = await h.call('spawn_agent', { prompt: 'hello' });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/NO_PROVIDER.*GEMINI_API_KEY.*OPENAI_API_KEY.*ANTHROPIC_API_KEY/);
    sc(await h.call('tasks_add', { tasks: [{ title: 'still works' }] }));
    sc(await h.call('cost_summary', {}));
  });

  it('returns output with real usage and list-price cost, and records it for cost_summary', async () => {
    const h = await start();
    fake.script({ text: 'Hello there, friend!', usage: { input: 1200, output: 300 } });
    const r = sc<Spawned>(await h.call('spawn_agent', { prompt: 'Greet me', system_prompt: 'Be warm.' }));
    expect(r).toMatchObject({
      output: 'Hello there, friend!',
      provider: 'openai',
      model: 'gpt-4o-mini',
      usage: { input_tokens: 1200, output_tokens: 300 },
      price_basis: 'list',
    });
    expect(r.cost_usd).toBeCloseTo((1200 * 0.15 + 300 * 0.6) / 1e6, 9);
    expect(fake.requests[0]?.headers.authorization).toBe('Bearer sk-test-spawn');
    const cost = sc<{ today: { calls: number; cost_usd: number }; by_model: Array<{ model: string }> }>(
      await h.call('cost_summary', {}),
    );
    expect(cost.today.calls).toBe(1);
    expect(cost.today.cost_usd).toBeCloseTo(r.cost_usd, 9);
    expect(cost.by_model[0]?.model).toBe('gpt-4o-mini');
    const unknown = sc<Spawned>(await h.call('spawn_agent', { prompt: 'x', model: 'llama3.1:8b' }));
    expect(unknown.price_basis).toBe('unknown_model');
  });

  it('retries a 429 after its Retry-After, and does not retry or fall back on a 400', async () => {
    const h = await start({ ANTHROPIC_API_KEY: 'sk-ant-spawn', ANTHROPIC_BASE_URL: fake.url });
    fake.script({ status: 429, headers: { 'retry-after': '0.3' } });
    const t0 = Date.now();
    const r = sc<Spawned>(await h.call('spawn_agent', { prompt: 'after a pause' }));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
    expect(r.trail).toEqual([{ provider: 'openai', model: 'gpt-4o-mini', outcome: 'ok', attempts: 2 }]);

    fake.requests.length = 0;
    fake.script({ status: 400 });
    const bad = await h.call('spawn_agent', { prompt: 'malformed request' });
    expect(bad.isError).toBe(true);
    expect(textOf(bad)).toMatch(/PROVIDER_UNAVAILABLE.*openai\/gpt-4o-mini: failed \(bad_request 400/);
    expect(fake.requests).toHaveLength(1);
  });

  it('opens the breaker after repeated failures and falls back to the next provider', async () => {
    // The injected clock stands still, so the breaker's next trial time is exact.
    const at = Date.parse('2026-06-01T12:00:00.000Z');
    const h = await start(
      {
        ANTHROPIC_API_KEY: 'sk-ant-spawn',
        ANTHROPIC_BASE_URL: fake.url,
        TASK_ORCHESTRATOR_BREAKER_RESET_MS: '7000',
      },
      { clock: { now: () => at } },
    );
    fake.script({ status: 500 }, { status: 502 }, { status: 503 });
    const r = sc<Spawned>(await h.call('spawn_agent', { prompt: 'please answer' }));
    expect(r.provider).toBe('anthropic');
    expect(r.trail[0]).toMatchObject({ provider: 'openai', outcome: 'failed', attempts: 3 });
    expect(r.trail[1]).toMatchObject({ provider: 'anthropic', outcome: 'ok' });
    expect(textOf(await h.call('spawn_agent', { prompt: 'x' }))).toMatch(/after openai breaker_open/);
    // The open breaker failed fast: the second call never reached OpenAI.
    expect(fake.requests.map((q) => q.wire)).toEqual([
      'openai',
      'openai',
      'openai',
      'anthropic',
      'anthropic',
    ]);
    const statusResult = await h.call('healing_status', {});
    // The text the model reads names the open breaker, since errors send it there.
    expect(textOf(statusResult)).toMatch(
      /Breakers: .*openai\/gpt-4o-mini open \(next trial .*last error: .*server_error/,
    );
    const status = sc<{
      breakers: Array<{ key: string; state: string; next_half_open_at?: string; last_error?: string }>;
    }>(statusResult);
    const breaker = status.breakers.find((b) => b.key === 'openai/gpt-4o-mini')!;
    expect(breaker.state).toBe('open');
    // TASK_ORCHESTRATOR_BREAKER_RESET_MS is honoured (the default would be 30 s).
    expect(breaker.next_half_open_at).toBe(new Date(at + 7_000).toISOString());
    expect(breaker.last_error).toMatch(/server_error/);
    const only = await h.call('spawn_agent', {
      prompt: 'x',
      provider: 'openai',
      options: { fallback: false },
    });
    expect(textOf(only)).toMatch(/openai\/gpt-4o-mini: breaker_open/);
  });
});

describe('budgets', () => {
  // An unknown model is priced at $15/$75 per million tokens; prompt "p" reserves 17 input + 1000 output tokens.
  const worst = (17 * 15 + 1000 * 75) / 1e6;

  it('lets 100 concurrent calls make at most 10 provider calls against a budget for 10, then lifts next day', async () => {
    let now = Date.parse('2026-05-01T10:00:00Z');
    const h = await start({}, { clock: { now: () => now } });
    sc(await h.call('cost_set_budget', { provider: 'openai', daily_usd: worst * 10.5 }));
    fake.script(
      ...Array.from({ length: 100 }, () => ({ text: 'x'.repeat(4000), usage: { input: 17, output: 1000 } })),
    );
    const results = await Promise.all(
      Array.from({ length: 100 }, () =>
        h.call('spawn_agent', { prompt: 'p', model: 'local-model', max_tokens: 1000 }),
      ),
    );
    const passed = results.filter((r) => !r.isError);
    const refused = results.filter((r) => r.isError);
    expect(passed.length).toBe(10);
    expect(fake.requests.length).toBe(10);
    expect(textOf(refused[0]!)).toMatch(
      /BUDGET_EXCEEDED.*would exceed the daily budget \$0\.79\d\d \(spent.*cost_set_budget/,
    );
    // Read-only tools keep working, and the next day the refusal lifts by itself.
    sc(await h.call('cost_summary', {}));
    expect(
      (await h.call('spawn_agent', { prompt: 'p', model: 'local-model', max_tokens: 1000 })).isError,
    ).toBe(true);
    now += 24 * 3600_000;
    fake.reset();
    fake.script({ text: 'new day' });
    expect(
      sc<Spawned>(await h.call('spawn_agent', { prompt: 'p', model: 'local-model', max_tokens: 1000 }))
        .output,
    ).toBe('new day');
  });

  it('is shared by two servers on one state folder', async () => {
    const stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'to-budget-'));
    const a = await start({}, { stateDir });
    const b = await start({}, { stateDir });
    sc(await a.call('cost_set_budget', { provider: 'openai', daily_usd: worst * 10.5 }));
    fake.script(...Array.from({ length: 40 }, () => ({ text: 'ok', usage: { input: 17, output: 1000 } })));
    const calls = [a, b].flatMap((h) =>
      Array.from({ length: 20 }, () =>
        h.call('spawn_agent', { prompt: 'p', model: 'local-model', max_tokens: 1000 }),
      ),
    );
    const results: CallToolResult[] = await Promise.all(calls);
    expect(results.filter((r) => !r.isError).length).toBe(10);
    expect(fake.requests.length).toBe(10);
  });
});

describe('spawn_agent with a task', () => {
  it("completes the task when the answer matches the task's schema, and leaves it open otherwise", async () => {
    const h = await start();
    const schema = {
      type: 'object',
      required: ['verdict'],
      properties: { verdict: { enum: ['ship', 'hold'] } },
    };
    const added = sc<{ added: Array<{ task: { id: string } }> }>(
      await h.call('tasks_add', {
        tasks: [
          { title: 'Decide on release', output_schema: schema },
          { title: 'Other', output_schema: schema },
        ],
      }),
    );
    const [good, bad] = added.added.map((a) => a.task.id);
    fake.script({ text: 'Here you go:\n```json\n{"verdict": "ship"}\n```' });
    const r = sc<Spawned>(await h.call('spawn_agent', { prompt: 'Decide.', task_id: good }));
    expect(r.json).toEqual({ valid: true, violations: [], value: { verdict: 'ship' } });
    expect(r.task).toEqual({ id: good, completed: true });
    expect(fake.requests[0]?.prompt).toMatch(/Decide on release[\s\S]*Answer with JSON only/);
    const task = sc<{ task: { status: string; result: unknown; artifacts: Array<{ name: string }> } }>(
      await h.call('tasks_get', { task_id: good! }),
    );
    expect(task.task).toMatchObject({ status: 'completed', result: { verdict: 'ship' } });
    expect(task.task.artifacts[0]?.name).toBe('agent_output.md');

    fake.script({ text: '{"verdict": "maybe"}' });
    const r2 = sc<Spawned>(await h.call('spawn_agent', { prompt: 'Decide.', task_id: bad }));
    expect(r2.json?.valid).toBe(false);
    expect(r2.task).toMatchObject({ id: bad, completed: false });
    expect(r2.task?.violations?.[0]).toMatch(/must be equal to one of the allowed values/);
    expect(
      sc<{ summary: { status: string } }>(await h.call('tasks_get', { task_id: bad! })).summary.status,
    ).toBe('ready');
    const invalidSchema = await h.call('spawn_agent', { prompt: 'x', output_schema: { type: 'wrong' } });
    expect(textOf(invalidSchema)).toMatch(/output_schema is not a valid JSON Schema/);
  });
});

describe('model: "auto"', () => {
  interface Chosen {
    provider: string;
    model: string;
    model_choice: { provider: string; model: string; tier: string; reason: string; worst_case_usd: number };
  }

  it('picks by role, schema and cost ceiling among configured models, and says why', async () => {
    const h = await start({ ANTHROPIC_API_KEY: 'sk-ant-auto', ANTHROPIC_BASE_URL: fake.url });
    const plain = sc<Chosen>(await h.call('spawn_agent', { prompt: 'Rename a variable.', model: 'auto' }));
    expect(plain.model_choice.tier).toBe('balanced');
    expect(plain.model).toBe(plain.model_choice.model);
    expect(plain.model_choice.reason).toMatch(/balanced tier wanted/);

    await h.call('request_tool', { category: 'agent' });
    const architect = sc<Chosen>(
      await h.call('spawn_archetype_agent', {
        archetype: 'architect',
        prompt: 'Design the cache.',
        model: 'auto',
      }),
    );
    expect(architect.model_choice).toMatchObject(
      {
        tier: 'strong',
        provider: 'anthropic',
        model: 'claude-sonnet-4-6',
      } /* the cheapest strong model that is not retiring */,
    );
    expect(architect.model_choice.reason).toMatch(/strong tier wanted for architect/);

    const cheap = sc<Chosen>(
      await h.call('spawn_agent', {
        prompt: 'Summarise.',
        model: 'auto',
        max_tokens: 500,
        options: { max_cost_usd: 0.001 },
      }),
    );
    expect(cheap.model_choice.worst_case_usd).toBeLessThanOrEqual(0.001);
    expect(cheap.model_choice.reason).toMatch(/within \$0\.001/);

    fake.script({ text: '{"ok": true}' });
    const schema = sc<Chosen>(
      await h.call('spawn_agent', { prompt: 'Answer.', model: 'auto', output_schema: { type: 'object' } }),
    );
    expect(['openai', 'gemini']).toContain(schema.model_choice.provider);
    expect(schema.model_choice.reason).toMatch(/enforces the JSON schema natively/);

    // Options are checked like any input: a bad or unknown one is refused, naming it.
    const hot = await h.call('spawn_agent', { prompt: 'x', options: { temperature: 5 } });
    expect(hot.isError).toBe(true);
    expect(textOf(hot)).toMatch(/options\.temperature: .*2/);
    const unknown = await h.call('spawn_agent', { prompt: 'x', options: { temprature: 1 } });
    expect(textOf(unknown)).toMatch(/options: unknown option\(s\) temprature/);
    const impossible = await h.call('spawn_agent', {
      prompt: 'x',
      model: 'auto',
      options: { max_cost_usd: 0.0000001 },
    });
    expect(textOf(impossible)).toMatch(/BUDGET_EXCEEDED.*No configured model fits max_cost_usd/);
  });

  it('chooses only models an OpenAI-compatible endpoint serves, asks for its list once, and says so', async () => {
    // A local server (Ollama-like) that serves one model, not the vendor's catalogue.
    fake.serveModels(['llama3.2:3b']);
    const h = await start({ OPENAI_MODEL: 'gpt-4o-mini' });
    const first = sc<Chosen>(await h.call('spawn_agent', { prompt: 'Rename a variable.', model: 'auto' }));
    expect(first.model_choice).toMatchObject({ provider: 'openai', model: 'llama3.2:3b' });
    expect(first.model).toBe('llama3.2:3b');
    expect(first.model_choice.reason).toMatch(/served by its endpoint \(1 model\(s\) listed there\)/);
    expect(fake.requests.at(-1)!.body.model).toBe('llama3.2:3b');
    // Even a role that wants a strong model gets what is there.
    await h.call('request_tool', { category: 'agent' });
    const architect = sc<Chosen>(
      await h.call('spawn_archetype_agent', { archetype: 'architect', prompt: 'Design it.', model: 'auto' }),
    );
    expect(architect.model_choice.model).toBe('llama3.2:3b');
    // Cached: the list was asked for once.
    expect(fake.modelListRequests).toBe(1);
  });

  it('without a model list at the endpoint, chooses from the price list and says why', async () => {
    const h = await start();
    const chosen = sc<Chosen>(await h.call('spawn_agent', { prompt: 'Rename a variable.', model: 'auto' }));
    expect(chosen.model_choice.reason).toMatch(
      /its endpoint did not list its models \(not_found 404.*\): chose from the vendor's price list/,
    );
  });
});
