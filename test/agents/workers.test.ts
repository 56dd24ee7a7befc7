/**
 * Worker onboarding through MCP: interviews against scripted good, limited and bad models,
 * model "auto" skipping blocked and unfit models, and demotion by trust from graded runs.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MEDIAN } from '../fakes/team.js';
import { useFakeLlm } from '../helpers/fakeLlm.js';
import { sc, startWithFakeProvider, textOf } from '../helpers/harness.js';
import type { Harness } from '../helpers/harness.js';

const GOOD = [
  'BANANA',
  '{"city": "Paris", "population": 2148000}',
  'The library closes from 3 March to 28 April; return books at the Hill Street branch, open until 9 pm.',
  '13',
  '```ts\n' + MEDIAN + '\n```',
  '{"answer": "Canberra", "confidence": 0.97}',
  '{"answer": "Unknown", "confidence": 0.05}',
];
const BAD = [
  'Sure! Here it is: BANANA',
  'Paris has about two million people.',
  'The Riverside library is going to be closed for a while because of renovation work, and in the meantime you can return books somewhere else in town, probably.',
  '21',
  'function median(v) { return v[0] }',
  '{"answer": "Sydney", "confidence": 0.99}',
  '{"answer": "$42.17", "confidence": 0.9}',
];
/** Follows instructions, summarises and reads code, but no JSON and no compiling TypeScript. */
const LIMITED = [GOOD[0]!, BAD[1]!, GOOD[2]!, GOOD[3]!, BAD[4]!, GOOD[5]!, GOOD[6]!];

interface Profile {
  status: string;
  reasons: string[];
  skills: Record<string, { pass: boolean }>;
  trust: number;
}

let h: Harness | undefined;
const llm = useFakeLlm();
beforeEach(async () => {
  h = await startWithFakeProvider(llm.fake.url, {
    TASK_ORCHESTRATOR_TOOLS: 'agent',
    TASK_ORCHESTRATOR_IMMUNE_BLOCK_RISK: '1',
  });
});
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const interview = async (model: string, answers: string[]) => {
  llm.fake.script(...answers.map((text) => ({ text })));
  return sc<Profile>(await h!.call('worker_interview', { provider: 'openai', model }));
};

describe('worker interviews', () => {
  it('grades good, limited and bad models deterministically', async () => {
    const good = await interview('gpt-4o-mini', GOOD);
    expect(good.status).toBe('active');
    expect(Object.values(good.skills).every((s) => s.pass)).toBe(true);
    const limited = await interview('gpt-4.1-mini', LIMITED);
    expect(limited.status).toBe('limited');
    expect(limited.skills.structured_json!.pass).toBe(false);
    expect(limited.reasons.join(' ')).toMatch(
      /limited to work needing only: instruction_following, summarisation, code_understanding, calibration/,
    );
    const bad = await interview('gpt-4o', BAD);
    expect(bad.status).toBe('blocked');
    expect(Object.values(bad.skills).filter((s) => s.pass)).toHaveLength(0);
    const list = sc<{ workers: Array<{ model: string; status: string }> }>(await h!.call('worker_list', {}));
    expect(list.workers.map((w) => [w.model, w.status])).toEqual([
      ['gpt-4.1-mini', 'limited'],
      ['gpt-4o', 'blocked'],
      ['gpt-4o-mini', 'active'],
    ]);
    expect(textOf(await h!.call('worker_profile', { provider: 'openai', model: 'never-seen' }))).toMatch(
      /has not been interviewed/,
    );
  });

  it('model "auto" never picks a blocked model, and keeps a limited one to the work it passed', async () => {
    llm.fake.script({ text: 'first answer' });
    const first = sc<{ model: string }>(await h!.call('spawn_agent', { prompt: 'Say hello', model: 'auto' }));
    await interview(first.model, BAD);
    llm.fake.script({ text: 'second answer' });
    const second = sc<{ model: string; model_choice: { reason: string } }>(
      await h!.call('spawn_agent', { prompt: 'Say hello', model: 'auto' }),
    );
    expect(second.model).not.toBe(first.model);
    expect(second.model_choice.reason).toContain(`skipped openai/${first.model} is blocked`);
    // Limited to work without structured output: asked for JSON, auto skips it too.
    await interview(second.model, LIMITED);
    llm.fake.script({ text: 'Plain words are fine' });
    const plain = sc<{ model: string }>(
      await h!.call('spawn_agent', { prompt: 'Say hello again', model: 'auto' }),
    );
    expect(plain.model).toBe(second.model);
    llm.fake.script({ text: '{"ok": true}' });
    const structured = sc<{ model: string; model_choice: { reason: string } }>(
      await h!.call('spawn_agent', {
        prompt: 'Report status',
        model: 'auto',
        output_schema: { type: 'object', required: ['ok'], properties: { ok: { type: 'boolean' } } },
      }),
    );
    expect([first.model, second.model]).not.toContain(structured.model);
    expect(structured.model_choice.reason).toMatch(/is limited \(failed structured_json\)/);
  });

  it('demotes a model whose graded outputs keep failing, and a re-interview reinstates it', async () => {
    await interview('gpt-4o-mini', GOOD);
    const prompts = [
      'Write the release notes for version two',
      'Summarise the incident report',
      'Translate the onboarding guide',
      'Draft the migration plan',
      'Describe the retention policy',
      'List the enabled feature flags',
      'Explain the caching layer',
      'Outline the billing job',
      'Review the login page',
    ];
    llm.fake.script(...prompts.map(() => ({ text: '' })));
    for (const p of prompts)
      await h!.call('spawn_agent', { prompt: p, provider: 'openai', model: 'gpt-4o-mini' });
    const demoted = sc<Profile>(
      await h!.call('worker_profile', { provider: 'openai', model: 'gpt-4o-mini' }),
    );
    expect(demoted.status).toBe('blocked');
    expect(demoted.trust).toBeLessThan(0.4);
    expect(demoted.reasons[0]).toMatch(/demoted: trust .* re-interview to reinstate/);
    expect((await interview('gpt-4o-mini', GOOD)).status).toBe('active');
  });
});
