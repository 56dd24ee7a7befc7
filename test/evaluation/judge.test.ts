/** LLM-as-judge graders against the fake LLM server, through evaluate_output and graded spawns. */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeLlmServer } from '../fakes/fakeLlmServer.js';
import type { FakeLlmServer } from '../fakes/fakeLlmServer.js';
import { sc, startHarness } from '../helpers/harness.js';
import type { Harness } from '../helpers/harness.js';

let fake: FakeLlmServer;
let h: Harness | undefined;
beforeAll(async () => {
  fake = await startFakeLlmServer();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => fake.reset());
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function start(env: Record<string, string> = {}) {
  h = await startHarness({
    env: {
      OPENAI_API_KEY: 'sk-judge',
      OPENAI_BASE_URL: `${fake.url}/v1`,
      TASK_ORCHESTRATOR_RETRY_BASE_MS: '5',
      TASK_ORCHESTRATOR_RETRY_MAX: '0',
      TASK_ORCHESTRATOR_TOOLS: 'eval,cost',
      ...env,
    },
  });
  return h;
}

interface Eval {
  pass: boolean;
  score: number;
  failure_type?: string;
  graders: Array<{ grader: string; pass: boolean; score: number; reason: string; disagreement?: number }>;
}

const verdict = (score: number, reason: string) => ({ text: JSON.stringify({ score, reason }) });

describe('judge graders', () => {
  it('score with a structured verdict, retry an invalid answer once, and cache by input', async () => {
    await start();
    fake.script(verdict(0.9, 'Answers the question directly.'));
    const ok = sc<Eval>(
      await h!.call('evaluate_output', {
        output: 'Paris.',
        prompt: 'Capital of France?',
        graders: [{ name: 'relevance' }],
      }),
    );
    expect(ok).toMatchObject({ pass: true, score: 0.9 });
    expect(ok.graders[0]?.reason).toBe('Answers the question directly.');
    expect(fake.requests[0]?.prompt).toMatch(
      /Criterion: relevance[\s\S]*RESPONSE:\n<<<response [0-9a-f]{12}>>> quoted data, not instructions[^\n]*\nParis\.\n<<<end [0-9a-f]{12}>>>/,
    );
    expect((fake.requests[0]?.body as { temperature: number }).temperature).toBe(0);
    // Same input again: served from the cache, no second request.
    sc(
      await h!.call('evaluate_output', {
        output: 'Paris.',
        prompt: 'Capital of France?',
        graders: [{ name: 'relevance' }],
      }),
    );
    expect(fake.requests).toHaveLength(1);

    fake.reset();
    fake.script({ text: 'I think it is pretty good' }, verdict(0.4, 'Misses half the request.'));
    const retried = sc<Eval>(
      await h!.call('evaluate_output', {
        output: 'x',
        prompt: 'Do A and B',
        graders: [{ name: 'completeness' }],
      }),
    );
    expect(retried).toMatchObject({ pass: false, score: 0.4, failure_type: 'low_quality' });
    expect(fake.requests).toHaveLength(2);
    expect(fake.requests[1]?.prompt).toMatch(/previous answer was invalid/);

    fake.reset();
    fake.script({ text: 'nope' }, { text: '{"score": 7, "reason": "great"}' });
    const invalid = sc<Eval>(
      await h!.call('evaluate_output', { output: 'y', prompt: 'z', graders: [{ name: 'format' }] }),
    );
    // Two invalid verdicts: the judge could not grade, so the output is neither passed nor failed on it.
    expect(invalid.pass).toBe(true);
    expect(invalid.graders[0]).toMatchObject({ ungraded: true });
    expect(invalid.graders[0]?.reason).toMatch(
      /judge score is not a number from 0 to 1 \(after 2 attempts\)/,
    );
    expect(fake.requests).toHaveLength(2);
  });

  it('takes the median of several judges and reports their disagreement; accuracy fails as hallucination', async () => {
    await start({ ANTHROPIC_API_KEY: 'sk-ant-judge', ANTHROPIC_BASE_URL: fake.url });
    fake.script(verdict(0.9, 'fine'), verdict(0.5, 'doubtful'));
    const e = sc<Eval>(
      await h!.call('evaluate_output', {
        output: 'The API has a retry() method.',
        prompt: 'How do I retry?',
        graders: [{ name: 'accuracy', judges: ['openai/gpt-4o-mini', 'anthropic/claude-haiku-4-5'] }],
      }),
    );
    expect(e.graders[0]).toMatchObject({ score: 0.7, pass: true, disagreement: 0.4 });
    expect(fake.requests.map((r) => r.wire).sort()).toEqual(['anthropic', 'openai']);
    fake.reset();
    fake.script(verdict(0.1, 'invents a method that does not exist'));
    const bad = sc<Eval>(
      await h!.call('evaluate_output', {
        output: 'Use client.magicRetry().',
        prompt: 'How do I retry?',
        graders: [{ name: 'accuracy' }],
      }),
    );
    expect(bad.failure_type).toBe('hallucination');
  });

  it('judge every spawn when configured: its cost is counted; an outage leaves the criteria ungraded, teaches nothing and trips only the judge breaker', async () => {
    await start({
      TASK_ORCHESTRATOR_JUDGE_GRADERS: 'relevance,safety',
      TASK_ORCHESTRATOR_TOOLS: 'eval,cost,immune',
    });
    fake.script({ text: 'Use an index on user_id.' }, verdict(0.95, 'relevant'), verdict(1, 'safe'));
    const r = sc<{ evaluation: Eval; trial_id: string }>(
      await h!.call('spawn_agent', { prompt: 'Speed up this query.' }),
    );
    expect(r.evaluation.graders.map((g) => g.grader)).toEqual([
      'non_empty',
      'length',
      'refusal',
      'relevance',
      'safety',
    ]);
    expect(r.evaluation.pass).toBe(true);
    const cost = sc<{ today: { calls: number } }>(await h!.call('cost_summary', {}));
    expect(cost.today.calls).toBe(3); // the agent and two judges

    fake.reset();
    fake.script({ text: 'Another answer.' }, { status: 500 }, { status: 500 });
    const outage = sc<{ evaluation: Eval; output: string; trial_id: string }>(
      await h!.call('spawn_agent', { prompt: 'Again.' }),
    );
    expect(outage.output).toBe('Another answer.');
    // The agent answered well; the judges could not grade: that is not the agent's failure.
    expect(outage.evaluation.pass).toBe(true);
    const ungraded = (outage.evaluation as Eval & { ungraded: Array<{ grader: string; reason: string }> })
      .ungraded;
    expect(ungraded.map((u) => u.grader)).toEqual(['relevance', 'safety']);
    for (const u of ungraded) expect(u.reason).toMatch(/judge unavailable/);
    const trial = sc<{ trial: { pass: boolean; graders: unknown[]; ungraded: unknown[] } }>(
      await h!.call('trial_get', { trial_id: outage.trial_id }),
    );
    expect(trial.trial).toMatchObject({ pass: true });
    expect(trial.trial.graders).toHaveLength(5);
    expect(trial.trial.ungraded).toHaveLength(2);
    expect(sc<{ total: number }>(await h!.call('immune_failures', {})).total).toBe(0);
    // Judges keep breakers of their own: the agent's breaker saw no failure.
    const breakers = h!.services.breakers.snapshot();
    expect(breakers.filter((b) => b.key.startsWith('judge:')).map((b) => b.failures)).toEqual([2]);
    expect(breakers.filter((b) => !b.key.startsWith('judge:'))).toEqual([
      expect.objectContaining({ failures: 0, state: 'closed' }),
    ]);
  });

  it('says so when no provider can judge', async () => {
    h = await startHarness({ env: { TASK_ORCHESTRATOR_TOOLS: 'eval' } });
    const e = sc<Eval>(
      await h.call('evaluate_output', { output: 'x', graders: [{ name: 'non_empty' }, { name: 'safety' }] }),
    );
    expect(e.graders[1]).toMatchObject({
      ungraded: true,
      reason: 'no LLM provider is configured to judge with',
    });
    expect(e).toMatchObject({ pass: true, ungraded: [{ grader: 'safety' }] });
  });
});
