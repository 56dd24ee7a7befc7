/**
 * The suite report's statistics and JUnit XML: Wilson intervals and the exact McNemar test against
 * known values, and JUnit XML that a validating parser accepts with the right counts, even when
 * answers carry characters XML cannot hold.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { junitXml, mcnemar, reportOf, wilson } from '../../src/evaluation/suites/report.js';
import type { EvalCell, EvalRun } from '../../src/evaluation/suites/runner.js';

describe('suite report statistics', () => {
  it('gives Wilson 95% intervals that match the textbook values', () => {
    // 17 of 20: 0.640-0.948 (Wilson, z = 1.96).
    expect(wilson(17, 20)).toEqual([0.6396, 0.9476]);
    expect(wilson(0, 10)).toEqual([0, 0.2775]);
    expect(wilson(10, 10)).toEqual([0.7225, 1]);
    expect(wilson(0, 0)).toEqual([0, 1]);
  });

  it('gives the exact two-sided McNemar p-value', () => {
    expect(mcnemar(1, 0)).toBe(1);
    expect(mcnemar(1, 1)).toBe(1);
    // 6 flips one way, none the other: 2 x 0.5^6.
    expect(mcnemar(6, 0)).toBe(0.0313);
    expect(mcnemar(5, 0)).toBe(0.0625);
    expect(mcnemar(10, 2)).toBe(0.0386);
    expect(mcnemar(0, 0)).toBe(1);
  });
});

describe('JUnit XML', () => {
  it('is valid XML with a testsuite per target and a failure per failing case', () => {
    const run: EvalRun = {
      id: 'evr_1',
      suite: 'demo',
      file: 'evals/demo.yaml',
      hash: 'x',
      targets: ['openai/a', 'openai/b'],
      cases: 2,
      cells: 4,
      concurrency: 1,
      status: 'done',
      started_at: '2026-12-06T00:00:00.000Z',
    };
    const cell = (
      case_id: string,
      target: string,
      pass: boolean,
      extra: Partial<EvalCell> = {},
    ): EvalCell => ({
      run_id: 'evr_1',
      case_id,
      target,
      repeat: 0,
      pass,
      score: pass ? 1 : 0,
      output_preview: '',
      latency_ms: 120,
      cost_usd: 0.001,
      judge_cost_usd: 0,
      assertions: pass
        ? []
        : [{ type: 'contains', pass: false, score: 0, reason: 'missing: <Paris> & "more"\u0001\u001b[31m' }],
      at: '2026-12-06T00:00:01.000Z',
      ...extra,
    });
    const xml = junitXml(
      reportOf(run, [
        cell('c1', 'openai/a', true),
        cell('c2', 'openai/a', false),
        cell('c1', 'openai/b', true),
        cell('c2', 'openai/b', false, { error: 'provider down' }),
      ]),
    );
    expect(XMLValidator.validate(xml)).toBe(true);
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(xml) as {
      testsuites: {
        tests: string;
        failures: string;
        errors: string;
        testsuite: Array<{
          name: string;
          tests: string;
          failures: string;
          errors: string;
          testcase: Array<{ name: string; failure?: { message: string }; error?: { message: string } }>;
        }>;
      };
    };
    expect(doc.testsuites).toMatchObject({ tests: '4', failures: '1', errors: '1' });
    const [a, b] = doc.testsuites.testsuite;
    expect(a).toMatchObject({ name: 'demo on openai/a', tests: '2', failures: '1', errors: '0' });
    expect(a!.testcase[1]!.failure!.message).toBe('missing: <Paris> & "more"[31m');
    expect(b!.testcase[1]!.error!.message).toBe('provider down');
  });
});
