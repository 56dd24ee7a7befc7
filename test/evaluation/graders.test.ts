import { afterEach, describe, expect, it } from 'vitest';
import {
  contains,
  jsonSchema,
  jsonValid,
  length,
  nonEmpty,
  regex,
} from '../../src/evaluation/graders/code.js';
import { grade } from '../../src/evaluation/graders/pipeline.js';
import { SchemaCache } from '../../src/core/jsonSchema.js';
import { sc, startHarness, textOf } from '../helpers/harness.js';
import type { Harness } from '../helpers/harness.js';

const schemas = new SchemaCache();
const schema = { type: 'object', required: ['answer'], properties: { answer: { type: 'number' } } };

describe('code graders', () => {
  it('non_empty and length', () => {
    expect(nonEmpty({ output: ' hi ' })).toMatchObject({ pass: true, score: 1 });
    expect(nonEmpty({ output: ' \n\t' })).toMatchObject({
      pass: false,
      reason: 'output is empty or whitespace',
    });
    expect(length({ output: 'abcd', min: 2, max: 10 }).pass).toBe(true);
    expect(length({ output: 'a', min: 4 })).toMatchObject({ pass: false, score: 0.25 });
    expect(length({ output: 'x'.repeat(20), max: 10 })).toMatchObject({ pass: false, score: 0.5 });
  });

  it('json_valid finds a fenced block, json_schema reports violations', () => {
    expect(jsonValid({ output: 'Here:\n```json\n{"a": 1}\n```' }).pass).toBe(true);
    expect(jsonValid({ output: 'no json here' })).toMatchObject({
      pass: false,
      reason: 'the answer is not JSON and has no ```json block',
    });
    expect(jsonSchema({ output: '{"answer": 42}', schema, schemas }).pass).toBe(true);
    const bad = jsonSchema({ output: '{"answer": "42"}', schema, schemas });
    expect(bad).toMatchObject({ pass: false });
    expect(bad.reason).toMatch(/result\/answer must be number/);
  });

  it('regex matches, and a catastrophic pattern is cut off instead of hanging', () => {
    expect(regex({ output: 'Order #123', pattern: '#\\d+' }).pass).toBe(true);
    expect(regex({ output: 'ORDER', pattern: 'order', flags: 'i' }).pass).toBe(true);
    expect(regex({ output: 'x', pattern: '(' }).reason).toMatch(/invalid pattern/);
    const t0 = Date.now();
    const evil = regex({ output: 'a'.repeat(40) + '!', pattern: '^(a+)+$' });
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(evil).toMatchObject({ pass: false });
    expect(evil.reason).toMatch(/catastrophic/);
  });

  it('contains and not_contains, all or any, case-insensitive by default', () => {
    expect(contains({ output: 'Alpha beta', values: ['alpha', 'BETA'] }).pass).toBe(true);
    expect(contains({ output: 'alpha', values: ['alpha', 'gamma'] })).toMatchObject({
      pass: false,
      score: 0.5,
      reason: 'missing: gamma',
    });
    expect(contains({ output: 'alpha', values: ['alpha', 'gamma'], mode: 'any' }).pass).toBe(true);
    expect(contains({ output: 'alpha', values: ['Alpha'], caseSensitive: true }).pass).toBe(false);
    expect(contains({ output: 'rm -rf /', values: ['rm -rf'], negate: true })).toMatchObject({
      pass: false,
      reason: 'contains forbidden: rm -rf',
    });
  });
});

describe('grading pipeline', () => {
  it('weights scores, applies thresholds, and names the most telling failure', () => {
    const e = grade(
      '',
      [{ name: 'non_empty' }, { name: 'json_valid' }, { name: 'length', min: 10 }],
      undefined,
      schemas,
    );
    expect(e).toMatchObject({ pass: false, score: 0, failure_type: 'empty_response' });
    const partial = grade(
      'alpha',
      [
        { name: 'contains', values: ['alpha', 'beta'], threshold: 0.5 },
        { name: 'non_empty', weight: 3 },
      ],
      undefined,
      schemas,
    );
    expect(partial.pass).toBe(true);
    expect(partial.score).toBe(0.875);
    const schemaFail = grade(
      '{"answer": "x"}',
      [{ name: 'json_valid' }, { name: 'json_schema' }],
      schema,
      schemas,
    );
    expect(schemaFail.failure_type).toBe('schema_violation');
  });

  it('turns a grader that throws into a failed result', () => {
    const broken = {
      violations: () => {
        throw new Error('boom');
      },
      validator: () => undefined,
    } as unknown as SchemaCache;
    const e = grade('{"a":1}', [{ name: 'json_schema' }], schema, broken);
    expect(e.pass).toBe(false);
    expect(e.graders[0]?.reason).toBe('grader failed: boom');
  });
});

describe('evaluate_output through MCP', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('grades, and refuses unknown graders, missing parameters and bad schemas with a clear message', async () => {
    h = await startHarness({ env: { TASK_ORCHESTRATOR_TOOLS: 'eval' } });
    const r = sc<{ pass: boolean; graders: Array<{ grader: string; pass: boolean }> }>(
      await h.call('evaluate_output', {
        output: '```json\n{"answer": 7}\n```',
        graders: [{ name: 'json_valid' }, { name: 'json_schema' }],
        output_schema: schema,
      }),
    );
    expect(r.pass).toBe(true);
    expect(textOf(await h.call('evaluate_output', { output: 'x', graders: [{ name: 'vibes' }] }))).toMatch(
      /non_empty.*json_schema/s,
    );
    expect(
      textOf(await h.call('evaluate_output', { output: 'x', graders: [{ name: 'json_schema' }] })),
    ).toMatch(/json_schema needs output_schema/);
    expect(textOf(await h.call('evaluate_output', { output: 'x', graders: [{ name: 'regex' }] }))).toMatch(
      /regex needs pattern/,
    );
    expect(
      textOf(
        await h.call('evaluate_output', {
          output: 'x',
          graders: [{ name: 'json_schema' }],
          output_schema: { type: 'bogus' },
        }),
      ),
    ).toMatch(/not a valid JSON Schema/);
    const big = sc<{ pass: boolean }>(
      await h.call('evaluate_output', {
        output: 'y'.repeat(1_000_000),
        graders: [{ name: 'non_empty' }, { name: 'length', max: 10 }],
      }),
    );
    expect(big.pass).toBe(false);
  });
});
