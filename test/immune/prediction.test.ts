/**
 * The failure predictor: features, metrics, training on a labelled set with a learnable signal
 * (beats a constant predictor clearly in AUC), save/load round trip, refusals.
 */
import { describe, expect, it } from 'vitest';
import { parseTrainingJsonl } from '../../src/immune/prediction/dataset.js';
import { buildSpec, metaFeatures, META_FEATURES, vectorize } from '../../src/immune/prediction/features.js';
import { Forest } from '../../src/immune/prediction/forest.js';
import { metrics, rocAuc } from '../../src/immune/prediction/metrics.js';
import { trainModel } from '../../src/immune/prediction/train.js';
import { labelledJsonl, labelledPrompts } from '../fakes/labelledPrompts.js';

describe('predictor features and metrics', () => {
  it('computes meta features of prompt and tool', () => {
    const f: Record<string, number> = Object.fromEntries(
      metaFeatures('Please DELETE all rows recursively? ```rm -rf /```', 'db_query').map(
        (v, i): [string, number] => [META_FEATURES[i]!, v],
      ),
    );
    expect(f).toMatchObject({
      risky_words: 2,
      complexity_words: 2,
      question_marks: 1,
      contains_code: 1,
      tool_database: 1,
      tool_filesystem: 0,
    });
    expect(f.upper_ratio).toBeGreaterThan(0.05);
  });

  it('learns a vocabulary of terms that separate the classes, unigrams and bigrams', () => {
    const spec = buildSpec(
      [
        ...Array.from({ length: 10 }, () => ({ text: 'drop the production table now', label: 1 as const })),
        ...Array.from({ length: 10 }, () => ({ text: 'summarise the weekly report now', label: 0 as const })),
      ],
      { maxTerms: 6, minDf: 3 },
    );
    expect(spec.vocabulary).toEqual(expect.arrayContaining(['drop', 'product', 'summaris']));
    expect(spec.vocabulary.some((t) => t.includes(' '))).toBe(true);
    expect(spec.vocabulary).not.toContain('now');
    expect(vectorize(spec, 'drop it').length).toBe(META_FEATURES.length + spec.vocabulary.length);
  });

  it('computes ROC AUC by ranks, with ties', () => {
    expect(rocAuc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])).toBeCloseTo(0.75, 5);
    expect(rocAuc([0, 1], [0.5, 0.5])).toBe(0.5);
    expect(metrics([1, 1, 0, 0], [0.9, 0.2, 0.6, 0.1])).toMatchObject({
      accuracy: 0.5,
      precision: 0.5,
      recall: 0.5,
    });
  });

  it('reads our exports and other JSONL shapes, skipping lines without prompt or outcome', () => {
    const jsonl = [
      JSON.stringify({ prompt: 'a', label: 1 }),
      JSON.stringify({ input: 'b', success: true }),
      JSON.stringify({ input_prompt: 'c', pass_fail: 'FAIL' }),
      JSON.stringify({ prompt: 'd', error: 'timeout' }),
      JSON.stringify({
        messages: [{ role: 'user', content: 'e' }],
        metadata: { pass: false, operation: 'spawn_agent' },
      }),
      JSON.stringify({
        input: { prompt: 'f' },
        expectedOutput: 'x',
        metadata: { pass: true, operation: 'spawn_agent' },
      }),
      JSON.stringify({
        id: 'tr_1',
        operation: 'spawn_agent',
        prompt: 'g',
        output: '',
        pass: false,
        score: 0,
      }),
      JSON.stringify({ prompt: 'no outcome' }),
      'not json',
    ].join('\n');
    const { rows, skipped } = parseTrainingJsonl(jsonl);
    expect(rows.map((r) => [r.text, r.label])).toEqual([
      ['a', 1],
      ['b', 0],
      ['c', 1],
      ['d', 1],
      ['e', 1],
      ['f', 0],
      ['g', 1],
    ]);
    expect(rows[4]!.tool).toBe('spawn_agent');
    expect(skipped).toBe(2);
  });
});

describe('training', () => {
  it('beats a constant predictor clearly on held-out rows, and a saved model predicts identically', () => {
    const { rows } = parseTrainingJsonl(labelledJsonl(600, 3));
    const model = trainModel(rows, { source: 'test', now: '2026-11-22T00:00:00.000Z', version: 1 });
    expect(model.samples).toMatchObject({ total: 600, train: 480, test: 120 });
    expect(model.metrics.roc_auc).toBeGreaterThan(0.75);
    expect(model.metrics.roc_auc - model.metrics.baseline_auc).toBeGreaterThan(0.25);
    expect(model.trees).toBeGreaterThanOrEqual(30);
    const again = Forest.fromJSON(JSON.parse(JSON.stringify(model.forests)) as object[]);
    const original = Forest.fromJSON(model.forests);
    const probe = labelledPrompts(50, 99).map((p) => vectorize(model.feature_spec, p.prompt, p.tool));
    expect(again.probabilities(probe)).toEqual(original.probabilities(probe));
    // The same data and seed give the same model.
    const twin = trainModel(rows, { source: 'test', now: '2026-11-22T00:00:00.000Z', version: 1 });
    expect(twin.metrics).toEqual(model.metrics);
    expect(twin.data_hash).toBe(model.data_hash);
  });

  it('refuses too few rows and a single class with what to do', () => {
    const few = labelledPrompts(10).map((p) => ({ text: p.prompt, label: p.label }));
    expect(() => trainModel(few, { source: 't', now: 'x', version: 1 })).toThrow(/at least 40 labelled rows/);
    const one = labelledPrompts(100).map((p) => ({ text: p.prompt, label: 0 as const }));
    expect(() => trainModel(one, { source: 't', now: 'x', version: 1 })).toThrow(
      /only successes.*needs both/,
    );
  });
});
