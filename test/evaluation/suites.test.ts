/**
 * Evaluation suites through MCP on the loopback fake (real OpenAI SDK): a 20-case suite on two
 * models that answer differently (the matrix shows exactly where), a second run whose flips the
 * diff lists (newly failing first, with how sure it is), an author's rubric and a reference answer
 * reaching the judge quoted, the cost limit stopping before the call that would pass it, and suite
 * files whose errors name the line.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { useFakeLlm } from '../helpers/fakeLlm.js';
import { sc, startWithFakeProvider, textOf } from '../helpers/harness.js';
import type { Harness } from '../helpers/harness.js';

const llm = useFakeLlm();
let h: Harness | undefined;
let project: string;
beforeEach(async () => {
  project = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'to-evals-')));
});
afterEach(async () => {
  await h?.close();
  h = undefined;
  await fs.rm(project, { recursive: true, force: true });
});

const COUNTRIES = [
  ['France', 'Paris'],
  ['Spain', 'Madrid'],
  ['Italy', 'Rome'],
  ['Germany', 'Berlin'],
  ['Portugal', 'Lisbon'],
  ['Austria', 'Vienna'],
  ['Poland', 'Warsaw'],
  ['Greece', 'Athens'],
  ['Norway', 'Oslo'],
  ['Sweden', 'Stockholm'],
  ['Finland', 'Helsinki'],
  ['Denmark', 'Copenhagen'],
  ['Ireland', 'Dublin'],
  ['Belgium', 'Brussels'],
  ['Hungary', 'Budapest'],
  ['Czechia', 'Prague'],
  ['Romania', 'Bucharest'],
  ['Bulgaria', 'Sofia'],
  ['Croatia', 'Zagreb'],
  ['Slovenia', 'Ljubljana'],
] as const;

interface Report {
  run: { id: string; status: string; stop_reason?: string; cells: number };
  done_cells: number;
  ended: boolean;
  summary: Array<{
    target: string;
    passed: number;
    failed: number;
    errors: number;
    pass_rate: number;
    ci95: [number, number];
  }>;
}

async function writeSuite(name: string, suite: unknown): Promise<string> {
  await fs.mkdir(path.join(project, 'evals'), { recursive: true });
  const file = path.join('evals', `${name}.yaml`);
  await fs.writeFile(path.join(project, file), stringify(suite));
  return file;
}

function capitals() {
  return {
    name: 'capitals',
    providers: ['openai/fake-a', 'openai/fake-b'],
    defaults: { assert: [{ type: 'not-refusal' }], max_tokens: 50 },
    cases: COUNTRIES.map(([country, capital], i) => ({
      id: `c${i + 1}`,
      prompt: 'What is the capital of {{country}}? One word.',
      vars: { country },
      assert: [{ type: 'icontains', value: capital }],
    })),
  };
}

/** fake-a knows every capital; fake-b gets the cases in `wrongForB` wrong. */
function answer(wrongForB: ReadonlySet<string>) {
  llm.fake.respond((prompt, _wire, model) => {
    const i = COUNTRIES.findIndex(([c]) => prompt.includes(`capital of ${c}?`));
    if (i < 0) return {};
    const capital = COUNTRIES[i]![1];
    return { text: model === 'fake-b' && wrongForB.has(`c${i + 1}`) ? 'Lyon' : capital };
  });
}

describe('evaluation suites', { timeout: 60_000 }, () => {
  it('runs 20 cases on two models: the matrix and the diff show exactly where they differ', async () => {
    const file = await writeSuite('capitals', capitals());
    h = await startWithFakeProvider(
      llm.fake.url,
      { TASK_ORCHESTRATOR_TOOLS: 'eval' },
      { cwd: project, stateDir: path.join(project, '.task-orchestrator') },
    );
    answer(new Set(['c3', 'c7', 'c11']));
    const progress: Array<{ progress: number; total?: number }> = [];
    const first = sc<Report>(
      (await h.client.callTool({ name: 'eval_run', arguments: { suite: file, concurrency: 4 } }, undefined, {
        onprogress: (p) => progress.push({ progress: p.progress, total: p.total }),
      })) as CallToolResult,
    );
    expect(first).toMatchObject({ ended: true, done_cells: 40, run: { status: 'done', cells: 40 } });
    // The client hears each finished cell: counts rise to 40 of 40.
    expect(progress.length).toBeGreaterThanOrEqual(10);
    expect(progress.at(-1)).toEqual({ progress: 40, total: 40 });
    expect(progress.map((p) => p.progress)).toEqual(
      [...progress.map((p) => p.progress)].sort((a, b) => a - b),
    );
    expect(first.summary).toEqual([
      expect.objectContaining({ target: 'openai/fake-a', passed: 20, failed: 0, errors: 0, pass_rate: 1 }),
      expect.objectContaining({ target: 'openai/fake-b', passed: 17, failed: 3, errors: 0, pass_rate: 0.85 }),
    ]);
    // The 95% interval of 17/20 is wide: a 20-case suite cannot tell 85% from 95%.
    expect(first.summary[1]!.ci95[0]).toBeLessThan(0.7);
    expect(first.summary[1]!.ci95[1]).toBeGreaterThan(0.94);
    const status = sc<{
      report: {
        matrix: Array<{
          case_id: string;
          target: string;
          pass: boolean;
          reason?: string;
          trial_ids: string[];
        }>;
      };
    }>(await h.call('eval_status', { run_id: first.run.id }));
    const failing = status.report.matrix.filter((m) => !m.pass);
    expect(failing.map((m) => `${m.case_id}@${m.target}`)).toEqual([
      'c3@openai/fake-b',
      'c7@openai/fake-b',
      'c11@openai/fake-b',
    ]);
    expect(failing[0]!.reason).toMatch(/missing: Rome/);
    // Every answer is a trial of source eval, linked from its cell.
    const trial = sc<{
      trial: {
        source: string;
        eval: { run_id: string; case_id: string };
        assertions: Array<{ type: string; pass: boolean }>;
      };
    }>(await h.call('trial_get', { trial_id: failing[0]!.trial_ids[0]! })).trial;
    expect(trial).toMatchObject({ source: 'eval', eval: { run_id: first.run.id, case_id: 'c3' } });
    expect(trial.assertions).toEqual([
      expect.objectContaining({ type: 'not-refusal', pass: true }),
      expect.objectContaining({ type: 'icontains', pass: false }),
    ]);
    expect(textOf(await h.call('eval_status', { run_id: first.run.id }))).toMatch(
      /\| c3 \| PASS \| FAIL \|[\s\S]*<<<failing reasons \w+>>>[\s\S]*c3 on openai\/fake-b: missing: Rome/,
    );

    // Pin it; a later run where fake-b gets c15 wrong and c3 right: two flips, newly failing first.
    sc(await h.call('eval_compare', { after: first.run.id, before: first.run.id, pin: true }));
    answer(new Set(['c7', 'c11', 'c15']));
    const second = sc<Report>(await h.call('eval_run', { suite: file }));
    const diff = sc<{
      flips: Array<{ case_id: string; target: string; before: string; after: string }>;
      newly_failing: number;
      newly_passing: number;
      p_value: number;
      regression: boolean;
      verdict: string;
      compared: number;
    }>(await h.call('eval_compare', { after: second.run.id }));
    expect(diff.compared).toBe(40);
    expect(diff.flips.map((f) => `${f.case_id}@${f.target}:${f.before}->${f.after}`)).toEqual([
      'c15@openai/fake-b:pass->fail',
      'c3@openai/fake-b:fail->pass',
    ]);
    expect(diff).toMatchObject({ newly_failing: 1, newly_passing: 1, p_value: 1, regression: false });
    // A single flip is never called a regression without saying how sure it is.
    answer(new Set(['c3', 'c7', 'c11', 'c19']));
    const third = sc<Report>(await h.call('eval_run', { suite: file }));
    const one = sc<{ regression: boolean; verdict: string }>(
      await h.call('eval_compare', { after: third.run.id }),
    );
    expect(one).toMatchObject({ regression: false });
    expect(one.verdict).toMatch(
      /1 newly failing, 0 newly passing: not significant \(McNemar p = 1; it may be chance\)/,
    );
  });

  it("quotes an author's rubric and a reference answer in the judge's prompt", async () => {
    const file = await writeSuite('rubric', {
      name: 'rubric',
      providers: ['openai/fake-a'],
      judge: 'openai/judge-model',
      cases: [
        {
          id: 'lyon',
          prompt: 'Describe the oldest district of Lyon.',
          assert: [
            { type: 'rubric', value: 'It must name Vieux Lyon and mention the Renaissance buildings.' },
            {
              type: 'reference',
              value: 'Vieux Lyon, on the right bank of the Saône, has Renaissance houses.',
            },
          ],
        },
      ],
    });
    h = await startWithFakeProvider(llm.fake.url, { TASK_ORCHESTRATOR_TOOLS: 'eval' }, { cwd: project });
    llm.fake.respond((prompt, _wire, model) =>
      model === 'judge-model'
        ? { text: '{"score": 0.9, "reason": "names Vieux Lyon"}' }
        : { text: 'Vieux Lyon, with its Renaissance houses.' },
    );
    const r = sc<Report>(await h.call('eval_run', { suite: file }));
    expect(r.summary[0]).toMatchObject({ passed: 1 });
    const judged = llm.fake.requests.filter((q) => (q.body as { model: string }).model === 'judge-model');
    expect(judged).toHaveLength(2);
    // The reference judge quotes a rubric of its own: the author's is in the other prompt (the two
    // judges run at once, in either order).
    const rubric = judged.find((q) => !q.prompt.includes('<<<reference answer'))!.prompt;
    expect(rubric).toMatch(
      /<<<rubric (\w+)>>>[^\n]*\nIt must name Vieux Lyon and mention the Renaissance buildings\.\n<<<end \1>>>/,
    );
    const reference = judged.find((q) => q.prompt.includes('<<<reference answer'))!.prompt;
    expect(reference).toMatch(
      /Compare the RESPONSE with the REFERENCE[\s\S]*<<<reference answer (\w+)>>>[^\n]*\nVieux Lyon, on the right bank of the Saône, has Renaissance houses\.\n<<<end \1>>>/,
    );
  });

  it('stops before the call that would pass the cost limit', async () => {
    const suite = capitals();
    suite.providers = ['openai/fake-a'];
    const file = await writeSuite('capitals', suite);
    h = await startWithFakeProvider(llm.fake.url, { TASK_ORCHESTRATOR_TOOLS: 'eval' }, { cwd: project });
    answer(new Set());
    // fake-a is not in the price table: the conservative rate ($15/$75 per million tokens), so a
    // call's worst case (50 output tokens) is ~$0.004 and an actual call ~$0.0003.
    const r = sc<Report & { run: { stop_reason: string } }>(
      await h.call('eval_run', { suite: file, concurrency: 1, max_cost_usd: 0.006 }),
    );
    expect(r.run.status).toBe('stopped');
    expect(r.run.stop_reason).toMatch(
      /^cost limit \$0\.006: the next call \(c\d+ on openai\/fake-a, up to \$0\.00\d+\) would pass it/,
    );
    expect(r.done_cells).toBeGreaterThan(0);
    expect(r.done_cells).toBeLessThan(20);
    // Nothing was asked beyond the cells it recorded, and the spend stayed under the limit.
    expect(llm.fake.requests).toHaveLength(r.done_cells);
    const cost = sc<{ all_time: { cost_usd: number } }>(
      await h.call('request_tool', { category: 'cost' }).then(() => h!.call('cost_summary', {})),
    );
    expect(cost.all_time.cost_usd).toBeLessThanOrEqual(0.006);
    // Resumed with a larger limit, it finishes without asking a finished case again.
    const resumed = sc<Report>(await h.call('eval_run', { suite: file, resume: r.run.id, max_cost_usd: 1 }));
    expect(resumed).toMatchObject({ ended: true, done_cells: 20, run: { status: 'done' } });
    expect(llm.fake.requests).toHaveLength(20);
    expect(new Set(llm.fake.requests.map((q) => q.prompt)).size).toBe(20);
  });

  it('names the line and field of every problem in a suite file', async () => {
    await fs.mkdir(path.join(project, 'evals'));
    await fs.writeFile(
      path.join(project, 'evals', 'bad.yaml'),
      [
        'name: Bad Name',
        'cases:',
        '  - prompt: hello {{who}}',
        '    assert:',
        '      - type: contains',
        '      - type: sparkle',
        '        value: x',
        '',
      ].join('\n'),
    );
    h = await startWithFakeProvider(llm.fake.url, { TASK_ORCHESTRATOR_TOOLS: 'eval' }, { cwd: project });
    const r = await h.call('eval_run', { suite: 'evals/bad.yaml' });
    expect(r.isError).toBe(true);
    const text = textOf(r);
    expect(text).toMatch(/bad\.yaml:1:7: name must match pattern/);
    expect(text).toMatch(/bad\.yaml:5:9: cases\[0\]\.assert\[0\] must have required property 'value'/);
    expect(text).toMatch(
      /bad\.yaml:6:\d+: cases\[0\]\.assert\[1\]\.type must be equal to one of the allowed values: equals, contains/,
    );
    await fs.writeFile(
      path.join(project, 'evals', 'vars.yaml'),
      ['name: vars', 'cases:', '  - prompt: ok', '  - prompt: hello {{who}}', ''].join('\n'),
    );
    expect(textOf(await h.call('eval_run', { suite: 'evals/vars.yaml' }))).toMatch(
      /vars\.yaml:4:5: cases\[1\]\.prompt uses \{\{who\}\}, which no vars define/,
    );
    // Outside the project, or in the state folder: refused.
    expect(textOf(await h.call('eval_run', { suite: '/etc/passwd' }))).toMatch(/outside the project/);
  });

  it('turns remembered failures into a suite whose cases fail when the model repeats the failure', async () => {
    h = await startWithFakeProvider(
      llm.fake.url,
      { TASK_ORCHESTRATOR_TOOLS: 'eval,immune', TASK_ORCHESTRATOR_JUDGE_GRADERS: 'relevance' },
      { cwd: project, stateDir: path.join(project, '.task-orchestrator') },
    );
    const schema = { type: 'object', required: ['city'], properties: { city: { type: 'string' } } };
    // Two failures: an answer that is not JSON, and one the relevance judge fails.
    llm.fake.respond((prompt) => {
      if (prompt.startsWith('You are a strict evaluator'))
        return {
          text: prompt.slice(prompt.indexOf('RESPONSE:')).includes('Lyon')
            ? '{"score": 0.9, "reason": "about Lyon"}'
            : '{"score": 0.1, "reason": "It talks about Paris, not Lyon."}',
        };
      return { text: prompt.includes('JSON') ? 'The city is Lyon.' : 'Paris is lovely.' };
    });
    await h.call('spawn_agent', {
      prompt: 'Return the city of the Fourviere basilica as JSON',
      output_schema: schema,
    });
    await h.call('spawn_agent', { prompt: 'Describe the traboules of Lyon' });
    const written = sc<{ suite_file: string; cases: number; skipped: unknown[] }>(
      await h.call('eval_cases_from_memory', {}),
    );
    expect(written).toMatchObject({ suite_file: 'evals/from-memory.yaml', cases: 2, skipped: [] });
    const yaml = await fs.readFile(path.join(project, 'evals', 'from-memory.yaml'), 'utf8');
    expect(yaml).toMatch(/^# Generated by task-orchestrator from its failure memory/);
    expect(yaml).toMatch(/type: is-json/);
    expect(yaml).toMatch(/type: judge\n\s+criterion: relevance/);
    expect(yaml).toMatch(/It talks about Paris, not Lyon\./);
    // The same model still fails both: the suite says so.
    const again = sc<Report>(
      await h.call('eval_run', { suite: 'evals/from-memory.yaml', targets: ['openai/gpt-4o-mini'] }),
    );
    expect(again.summary[0]).toMatchObject({ passed: 0, failed: 2 });
    // The memory arm: the same model, once plain and once with the memory's guardrails in its
    // system prompt (this fake answers properly only when it sees them).
    llm.fake.respond((prompt, wire, _model) => {
      const request = llm.fake.requests.at(-1)!;
      const system = JSON.stringify((request.body as { messages?: unknown }).messages ?? '');
      if (prompt.startsWith('You are a strict evaluator'))
        return {
          text: prompt.slice(prompt.indexOf('RESPONSE:')).includes('Lyon')
            ? '{"score": 0.9, "reason": "about Lyon"}'
            : '{"score": 0.1, "reason": "It talks about Paris, not Lyon."}',
        };
      const guarded = system.includes('Guardrails from past failures');
      void wire;
      if (prompt.includes('JSON')) return { text: guarded ? '{"city": "Lyon"}' : 'The city is Lyon.' };
      return { text: guarded ? 'The traboules of Lyon are covered passages.' : 'Paris is lovely.' };
    });
    const arms = sc<Report>(
      await h.call('eval_run', {
        suite: 'evals/from-memory.yaml',
        targets: ['openai/gpt-4o-mini'],
        memory: 'both',
      }),
    );
    expect(arms.summary).toEqual([
      expect.objectContaining({ target: 'openai/gpt-4o-mini', passed: 0, failed: 2 }),
      expect.objectContaining({ target: 'openai/gpt-4o-mini+memory', passed: 2, failed: 0 }),
    ]);
    // A model that learned passes both.
    llm.fake.respond((prompt) => {
      if (prompt.startsWith('You are a strict evaluator'))
        return { text: '{"score": 0.9, "reason": "does what was asked"}' };
      return {
        text: prompt.includes('JSON') ? '{"city": "Lyon"}' : 'The traboules of Lyon are covered passages.',
      };
    });
    const fixed = sc<Report>(
      await h.call('eval_run', { suite: 'evals/from-memory.yaml', targets: ['openai/gpt-4o-mini'] }),
    );
    expect(fixed.summary[0]).toMatchObject({ passed: 2, failed: 0 });
    // A suite someone wrote is never overwritten.
    await fs.writeFile(path.join(project, 'evals', 'mine.yaml'), 'name: mine\ncases:\n  - prompt: hi\n');
    const refused = await h.call('eval_cases_from_memory', { suite_file: 'evals/mine.yaml' });
    expect(textOf(refused)).toMatch(/exists and was not generated from the memory; not overwritten/);
  });
});
