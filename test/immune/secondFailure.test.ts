/**
 * The memory prevents the second failure, through MCP on the loopback fake (real OpenAI SDK): a
 * judge-failed prompt is guarded at its 2nd attempt and blocked once it fails despite the guardrail;
 * rewordings of one failing request make one pattern that escalates, which a person can split on
 * the desk; the guardrail names the graders' reasons and, after a passing attempt, the lesson.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startDesk, stopDesk } from '../desk/desk.js';
import { useFakeLlm } from '../helpers/fakeLlm.js';
import { sc, startWithFakeProvider, textOf } from '../helpers/harness.js';
import type { Harness } from '../helpers/harness.js';

const llm = useFakeLlm();
let h: Harness | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await h?.close();
  h = undefined;
  for (const d of dirs.splice(0)) await fs.rm(d, { recursive: true, force: true });
});

interface Check {
  risk: number;
  should_proceed: boolean;
  block_reason?: string;
  matches: Array<{
    pattern_id: string;
    similarity: number;
    stage: string;
    escalated: boolean;
    same_problem: boolean;
    wordings: number;
  }>;
  guardrails: string[];
  evidence: Array<{ pattern_id: string; reasons: string[]; failing_output?: string; lesson?: string }>;
  match: { stage: string; fallback_reason?: string };
}

interface Pattern {
  id: string;
  failure_type: string;
  occurrences: number;
  lesson?: string;
  streak?: { failures: number; guarded: number };
  variants?: Array<{ doc: string; text: string; count: number; similarity: number; stage: string }>;
  split_from?: { id: string; by: string };
}

const ASK = 'Describe the three oldest districts of Lyon and their history';

/**
 * The fake model: the agent answers from `answers` (in order); the relevance judge passes an answer
 * that is about Lyon and fails one that is not, with a reason; the lesson writer answers a sentence.
 */
function scriptModel(answers: string[]): void {
  llm.fake.respond((prompt) => {
    if (prompt.startsWith('You are a strict evaluator')) {
      const response = prompt.slice(prompt.indexOf('RESPONSE:'));
      return {
        text: JSON.stringify(
          /Lyon|Scotland/.test(response)
            ? { score: 0.9, reason: 'The answer describes what was asked.' }
            : { score: 0.1, reason: 'The answer describes Paris, not what was asked.' },
        ),
      };
    }
    if (prompt.startsWith('An earlier answer to a similar request failed'))
      return { text: '{"lesson": "Name the places the request asks about, not Paris."}' };
    return { text: answers.shift() ?? 'Paris has the Marais and the Latin Quarter.' };
  });
}

const systemOf = (i: number) =>
  (llm.fake.requests[i]!.body as { messages: Array<{ role: string; content: string }> }).messages.find(
    (m) => m.role === 'system',
  )?.content ?? '';

/** The agent's requests (judges and lesson writers left out). */
const agentRequests = () =>
  llm.fake.requests.filter(
    (r) => !r.prompt.startsWith('You are a strict evaluator') && !r.prompt.startsWith('An earlier answer'),
  );

describe('the memory prevents the second failure', { timeout: 60_000 }, () => {
  it('guards a judge-failed prompt at its 2nd attempt, with the reasons, and blocks it once it fails despite them', async () => {
    h = await startWithFakeProvider(llm.fake.url, {
      TASK_ORCHESTRATOR_TOOLS: 'immune',
      TASK_ORCHESTRATOR_JUDGE_GRADERS: 'relevance',
    });
    scriptModel([]);
    const first = sc<{ evaluation: { pass: boolean; failure_type: string } }>(
      await h.call('spawn_agent', { prompt: ASK }),
    );
    expect(first.evaluation).toMatchObject({ pass: false, failure_type: 'low_quality' });

    // Second attempt: guarded (not blocked) with what the judge said, quoted.
    const check = sc<Check>(await h.call('immune_check', { prompt: ASK, operation: 'spawn_agent' }));
    expect(check).toMatchObject({ should_proceed: true, risk: 0.85 });
    expect(check.matches[0]).toMatchObject({ escalated: false, same_problem: true });
    expect(check.guardrails[0]).toMatch(/failed before \(low_quality; failed by relevance\)/);
    expect(check.evidence[0]!.reasons).toEqual([
      'relevance: The answer describes Paris, not what was asked.',
    ]);
    const second = sc<{ evaluation: { pass: boolean }; immune: { matched_patterns: number } }>(
      await h.call('spawn_agent', { prompt: ASK }),
    );
    expect(second.evaluation.pass).toBe(false);
    expect(second.immune.matched_patterns).toBe(1);
    const guardedSystem = systemOf(llm.fake.requests.indexOf(agentRequests()[1]!));
    expect(guardedSystem).toMatch(
      /<<<earlier failures (\w+)>>>[^\n]*\n[\s\S]*graders said: relevance: The answer describes Paris, not what was asked\.[\s\S]*<<<end \1>>>/,
    );

    // It failed despite its guardrail: the third attempt is blocked before any provider call.
    const before = llm.fake.requests.length;
    const third = await h.call('spawn_agent', { prompt: ASK });
    expect(third.isError).toBe(true);
    expect(textOf(third)).toMatch(/IMMUNE_BLOCKED.*failed again although its guardrails were applied/);
    expect(llm.fake.requests.length).toBe(before);
    const [pattern] = sc<{ patterns: Pattern[] }>(await h.call('immune_failures', {})).patterns;
    expect(pattern).toMatchObject({ occurrences: 2, streak: { failures: 2, guarded: 1 } });
  });

  it('merges four rewordings of one failing request into one pattern that escalates; a person splits one off on the desk', async () => {
    const stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'to-merge-'));
    dirs.push(stateDir);
    h = await startWithFakeProvider(
      llm.fake.url,
      { TASK_ORCHESTRATOR_TOOLS: 'immune', TASK_ORCHESTRATOR_JUDGE_GRADERS: 'relevance' },
      { stateDir },
    );
    scriptModel(['I like trains.', 'I like trains.', 'I like trains.', 'I like trains.']);
    const wordings = ['north', 'south', 'east', 'west'].map(
      (side) => `List the five largest towns in the ${side} of Scotland with their populations`,
    );
    for (const prompt of wordings) {
      const r = sc<{ evaluation: { pass: boolean } }>(await h.call('spawn_agent', { prompt }));
      expect(r.evaluation.pass).toBe(false);
    }
    const listed = sc<{ patterns: Pattern[]; total: number }>(await h.call('immune_failures', {}));
    expect(listed.total).toBe(1);
    const p = listed.patterns[0]!;
    expect(p.occurrences).toBe(4);
    expect(p.variants?.map((v) => v.text)).toEqual(wordings.slice(1));
    expect(p.variants?.every((v) => v.stage === 'tfidf' && v.similarity >= 0.6)).toBe(true);
    // The 2nd wording carried the pattern's guardrail and failed: escalated; any known wording blocks.
    expect(p.streak).toMatchObject({ failures: 4, guarded: 3 });
    const repeat = sc<Check>(
      await h.call('immune_check', { prompt: wordings[1]!, operation: 'spawn_agent' }),
    );
    expect(repeat).toMatchObject({ should_proceed: false });
    expect(repeat.matches[0]).toMatchObject({ pattern_id: p.id, escalated: true, wordings: 4 });
    const status = sc<{ patterns: number; variants: number; escalated: number }>(
      await h.call('immune_status', {}),
    );
    expect(status).toMatchObject({ patterns: 1, variants: 3, escalated: 1 });
    await h.close();
    h = undefined;

    // A person decides the west one is another problem and splits it off on the desk.
    const person = await startDesk(stateDir, true);
    try {
      const traded = await fetch(person.link!, { redirect: 'manual' });
      const cookie = traded.headers.get('set-cookie')!.split(';')[0]!;
      const pageHtml = await (await fetch(`${person.base}/patterns/${p.id}`, { headers: { cookie } })).text();
      expect(pageHtml).toContain('3 other wording(s) failed the same way and joined it');
      expect(pageHtml).toMatch(/Escalated: it blocks its own problem/);
      const csrf = /name="csrf" value="([0-9a-f]+)"/.exec(pageHtml)![1]!;
      const west = p.variants!.find((v) => v.text.includes('west'))!;
      const split = await fetch(`${person.base}/patterns/${p.id}`, {
        method: 'POST',
        headers: { cookie, origin: person.base, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ action: 'split', csrf, doc: west.doc }).toString(),
      });
      expect(split.status).toBe(200);
      expect(await split.text()).toMatch(/Split off as pattern pat_\w+ \(1 failure\(s\)\)/);
    } finally {
      await stopDesk(person);
    }
    h = await startWithFakeProvider(llm.fake.url, { TASK_ORCHESTRATOR_TOOLS: 'immune' }, { stateDir });
    const after = sc<{ patterns: Pattern[]; total: number }>(await h.call('immune_failures', {}));
    expect(after.total).toBe(2);
    const [newest, kept] = after.patterns;
    expect(newest).toMatchObject({
      occurrences: 1,
      split_from: { id: p.id, by: 'human (review desk)' },
    });
    expect(kept).toMatchObject({ id: p.id, occurrences: 3 });
    expect(kept!.variants).toHaveLength(2);
    // The west wording now matches its own pattern first.
    const westCheck = sc<Check>(await h.call('immune_check', { prompt: wordings[3]! }));
    expect(westCheck.matches[0]).toMatchObject({ pattern_id: newest!.id, similarity: 1 });
  });

  it("names the graders' reasons in the guardrail and, after a passing attempt, the judge's lesson; the pass relaxes it", async () => {
    h = await startWithFakeProvider(llm.fake.url, {
      TASK_ORCHESTRATOR_TOOLS: 'immune',
      TASK_ORCHESTRATOR_JUDGE_GRADERS: 'relevance',
    });
    scriptModel(['Paris has the Marais.', 'Lyon: Vieux Lyon, Croix-Rousse and Fourvière.']);
    await h.call('spawn_agent', { prompt: ASK });
    const passed = sc<{ evaluation: { pass: boolean } }>(await h.call('spawn_agent', { prompt: ASK }));
    expect(passed.evaluation.pass).toBe(true);
    const [pattern] = sc<{ patterns: Pattern[] }>(await h.call('immune_failures', {})).patterns;
    expect(pattern).toMatchObject({
      lesson: 'Name the places the request asks about, not Paris.',
      streak: { failures: 0, guarded: 0 },
    });
    // The lesson writer saw the failure and the passing answer quoted as data.
    const asked = llm.fake.requests.find((r) => r.prompt.startsWith('An earlier answer'))!;
    expect(asked.prompt).toMatch(/<<<earlier failure \w+>>>[\s\S]*describes Paris, not what was asked/);
    expect(asked.prompt).toMatch(/<<<passing answer \w+>>>[^\n]*\nLyon: Vieux Lyon/);
    const next = sc<Check>(await h.call('immune_check', { prompt: ASK }));
    expect(next.guardrails[0]).toMatch(/do not repeat what its graders faulted, and do what worked later/);
    expect(next.evidence[0]).toMatchObject({
      reasons: ['relevance: The answer describes Paris, not what was asked.'],
      failing_output: 'Paris has the Marais.',
      lesson: 'Name the places the request asks about, not Paris.',
    });
    // Relaxed: the next failure guards again rather than block.
    expect(next).toMatchObject({ should_proceed: true });
    expect(next.matches[0]!.escalated).toBe(false);
  });

  it("writes the lesson from the graders' reasons when judges are off", async () => {
    h = await startWithFakeProvider(llm.fake.url, { TASK_ORCHESTRATOR_TOOLS: 'immune' });
    const schema = { type: 'object', required: ['city'], properties: { city: { type: 'string' } } };
    llm.fake.script({ text: 'The city is Lyon.' }, { text: '{"city": "Lyon"}' });
    await h.call('spawn_agent', {
      prompt: 'Return the city of the oldest district as JSON',
      output_schema: schema,
    });
    const ok = sc<{ evaluation: { pass: boolean } }>(
      await h.call('spawn_agent', {
        prompt: 'Return the city of the oldest district as JSON',
        output_schema: schema,
      }),
    );
    expect(ok.evaluation.pass).toBe(true);
    const [pattern] = sc<{ patterns: Pattern[] }>(await h.call('immune_failures', {})).patterns;
    expect(pattern!.lesson).toMatch(
      /^After failing \(json_valid: the answer is not JSON[^)]*\), an attempt with the guardrail passed \(json_valid: /,
    );
    // No model was asked to write it.
    expect(llm.fake.requests).toHaveLength(2);
  });

  it('asks the judge about a grey-zone match when TASK_ORCHESTRATOR_IMMUNE_SAME_TASK_JUDGE is on', async () => {
    h = await startWithFakeProvider(llm.fake.url, {
      TASK_ORCHESTRATOR_TOOLS: 'immune',
      TASK_ORCHESTRATOR_IMMUNE_SAME_TASK_JUDGE: 'on',
    });
    llm.fake.script({ text: '' });
    await h.call('spawn_agent', { prompt: 'Write the release notes for version 2 of the billing service' });
    // Both in the grey zone by TF-IDF (0.51 and 0.41): the judge says which is the same task.
    const grey = 'Draft notes about the billing service';
    const other = 'Summarise the billing service changes for version 2';
    llm.fake.respond((prompt) =>
      prompt.startsWith('Two requests are quoted below')
        ? { text: JSON.stringify({ same_task: prompt.includes(grey), reason: 'compared' }) }
        : {},
    );
    const yes = sc<Check>(await h.call('immune_check', { prompt: grey }));
    expect(yes.matches[0]).toMatchObject({ stage: 'judge', same_problem: true });
    expect(yes.matches[0]!.similarity).toBeGreaterThanOrEqual(0.6);
    const no = sc<Check>(await h.call('immune_check', { prompt: other }));
    expect(no.matches).toEqual([]);
    const asked = llm.fake.requests.filter((r) => r.prompt.startsWith('Two requests are quoted below'));
    expect(asked).toHaveLength(2);
    // The judge saw both requests quoted as data.
    expect(asked[0]!.prompt).toMatch(/<<<remembered request \w+>>>[\s\S]*<<<new request \w+>>>/);
  });
});
