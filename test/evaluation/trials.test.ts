/** Every agent output is graded and recorded as a trial (spawn tools against the fake LLM server). */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { useFakeLlm } from '../helpers/fakeLlm.js';
import { sc, startWithFakeProvider, textOf } from '../helpers/harness.js';
import type { Harness } from '../helpers/harness.js';

let h: Harness | undefined;
const llm = useFakeLlm();
beforeEach(async () => {
  h = await startWithFakeProvider(llm.fake.url, { TASK_ORCHESTRATOR_TOOLS: 'eval' });
});
afterEach(async () => {
  await h?.close();
  h = undefined;
});

interface Graded {
  output: string;
  evaluation: {
    pass: boolean;
    score: number;
    failure_type?: string;
    graders: Array<{ grader: string; pass: boolean; reason: string }>;
  };
  trial_id: string;
}

describe('graded spawns', () => {
  it('grades every answer with the default pipeline and records a trial', async () => {
    llm.fake.script({ text: 'A fine answer.' });
    const ok = sc<Graded>(await h!.call('spawn_agent', { prompt: 'Explain caching.' }));
    expect(ok.evaluation).toMatchObject({ pass: true, score: 1 });
    expect(ok.evaluation.graders.map((g) => g.grader)).toEqual(['non_empty', 'length', 'refusal']);
    expect(textOf(await h!.call('spawn_agent', { prompt: 'x' }))).toMatch(
      /\[evaluation: PASS score 1; trial tri_/,
    );

    const trial = sc<{
      trial: {
        id: string;
        pass: boolean;
        provider: string;
        usage: { input_tokens: number };
        graders: unknown[];
        breaker_state: string;
      };
    }>(await h!.call('trial_get', { trial_id: ok.trial_id }));
    expect(trial.trial).toMatchObject({
      id: ok.trial_id,
      pass: true,
      provider: 'openai',
      breaker_state: 'closed',
    });
    expect(trial.trial.graders).toHaveLength(3);
  });

  it('fails a wrong answer visibly and names the failure type', async () => {
    const schema = { type: 'object', required: ['n'], properties: { n: { type: 'number' } } };
    llm.fake.script({ text: '{"n": "seven"}' }, { text: '   ' });
    const wrong = sc<Graded>(await h!.call('spawn_agent', { prompt: 'Count.', output_schema: schema }));
    expect(wrong.evaluation).toMatchObject({ pass: false, failure_type: 'schema_violation' });
    expect(wrong.evaluation.graders.map((g) => g.grader)).toEqual([
      'non_empty',
      'length',
      'refusal',
      'json_valid',
      'json_schema',
    ]);
    const empty = sc<Graded>(await h!.call('spawn_agent', { prompt: 'Say something.' }));
    expect(empty.evaluation.failure_type).toBe('empty_response');
    const failing = sc<{ trials: Array<{ id: string; failure_type: string }>; total: number }>(
      await h!.call('trials_list', { pass: false }),
    );
    expect(failing.trials.map((t) => t.failure_type)).toEqual(['empty_response', 'schema_violation']);
  });

  it('takes per-call graders, and records provider failures as provider_error trials', async () => {
    llm.fake.script({ text: 'We should use Postgres.' });
    const r = sc<Graded>(
      await h!.call('spawn_agent', {
        prompt: 'Pick a DB.',
        options: { graders: [{ name: 'contains', values: ['postgres', 'sqlite'], mode: 'any' }] },
      }),
    );
    expect(r.evaluation.graders).toEqual([expect.objectContaining({ grader: 'contains', pass: true })]);

    llm.fake.script({ status: 400 });
    const bad = await h!.call('spawn_agent', { prompt: 'bad request' });
    expect(bad.isError).toBe(true);
    expect(textOf(bad)).toMatch(/Recorded as trial tri_\w+ \(trial_get\)/);
    const errors = sc<{ trials: Array<{ failure_type: string; output_preview: string }> }>(
      await h!.call('trials_list', { failure_type: 'provider_error' }),
    );
    expect(errors.trials).toHaveLength(1);
    expect(errors.trials[0]?.output_preview).toMatch(/bad_request/);
    expect(textOf(await h!.call('trial_get', { trial_id: 'tri_missing' }))).toMatch(/not found.*trials_list/);
  });

  it('fails a refusal with the default graders, and the model gains no trust from it', async () => {
    llm.fake.script(
      { text: 'Sorry, I am not able to do that.' },
      { text: "I'm sorry, but I can't help with that request." },
    );
    const refused = sc<Graded>(await h!.call('spawn_agent', { prompt: 'Write the migration script.' }));
    expect(refused.evaluation).toMatchObject({ pass: false, failure_type: 'refusal' });
    expect(refused.evaluation.graders.find((g) => g.grader === 'refusal')?.reason).toMatch(
      /declines the task/,
    );
    const again = sc<Graded>(await h!.call('spawn_agent', { prompt: 'Write the rollback script.' }));
    expect(again.evaluation.failure_type).toBe('refusal');
    // An answer that says what it cannot do and does the rest is not a refusal.
    llm.fake.script({
      text: `I cannot run it for you, but here is the script:\n${'ALTER TABLE users ADD COLUMN age int;\n'.repeat(20)}`,
    });
    expect(sc<Graded>(await h!.call('spawn_agent', { prompt: 'Write it then.' })).evaluation.pass).toBe(true);
  });

  it('learns nothing from a provider outage: the trial records it, the failure memory does not', async () => {
    await h!.close();
    h = await startWithFakeProvider(llm.fake.url, {
      TASK_ORCHESTRATOR_TOOLS: 'eval,immune',
      TASK_ORCHESTRATOR_RETRY_MAX: '1',
    });
    llm.fake.script(
      { status: 500 },
      { status: 500 },
      { status: 429, headers: { 'retry-after': '0' } },
      { status: 503 },
    );
    for (const prompt of ['Summarise the incident report.', 'Summarise the incident report again.']) {
      const r = await h.call('spawn_agent', { prompt });
      expect(r.isError).toBe(true);
    }
    expect(
      sc<{ trials: unknown[] }>(await h.call('trials_list', { failure_type: 'provider_error' })).trials,
    ).toHaveLength(2);
    expect(sc<{ patterns: unknown[]; total: number }>(await h.call('immune_failures', {})).total).toBe(0);
    const check = sc<{ risk: number; should_proceed: boolean }>(
      await h.call('immune_check', { prompt: 'Summarise the incident report.' }),
    );
    expect(check).toMatchObject({ risk: 0, should_proceed: true });
  });
});
