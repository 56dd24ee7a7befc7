/**
 * Trains a predictor model from labelled rows: stratified 80/20 split, vocabulary and forest from
 * the training part, metrics on the held-out part. Pure and synchronous: it runs in a worker
 * thread (trainWorker.ts) so the server keeps answering.
 */
import { AppError } from '../../core/errors.js';
import { dataHash } from './dataset.js';
import type { TrainingRow } from './dataset.js';
import { buildSpec, vectorize } from './features.js';
import type { FeatureSpec } from './features.js';
import { Forest, FOREST_SETTINGS, shuffle } from './forest.js';
import type { ForestSettings } from './forest.js';
import { metrics } from './metrics.js';
import type { Metrics } from './metrics.js';

export const MODEL_FORMAT = 'task-orchestrator/failure-predictor';
const MIN_SAMPLES = 40;
/** Rows beyond this are sampled down (stratified) before training. */
const MAX_ROWS = 20_000;
const VOCABULARY = { maxTerms: 60, minDf: 3 } as const;

export interface SavedModel {
  format: typeof MODEL_FORMAT;
  version: number;
  created_at: string;
  feature_spec: FeatureSpec;
  settings: ForestSettings & { max_rows: number; vocabulary: typeof VOCABULARY; seed: number };
  metrics: Metrics & { baseline_auc: number };
  data_hash: string;
  samples: { total: number; used: number; train: number; test: number; failures: number };
  source: string;
  training_ms: number;
  trees: number;
  forests: object[];
}

/** Stratified split: `testShare` of each class to the test set. */
function split(
  rows: TrainingRow[],
  seed: number,
  testShare: number,
): { train: TrainingRow[]; test: TrainingRow[] } {
  const train: TrainingRow[] = [];
  const test: TrainingRow[] = [];
  for (const label of [0, 1] as const) {
    const cls = shuffle(
      rows.filter((r) => r.label === label),
      seed + label,
    );
    const nTest = Math.max(1, Math.round(cls.length * testShare));
    test.push(...cls.slice(0, nTest));
    train.push(...cls.slice(nTest));
  }
  return { train, test };
}

/**
 * @throws AppError INVALID_INPUT below MIN_SAMPLES rows or with only one class.
 */
export function trainModel(
  rows: TrainingRow[],
  options: { seed?: number; source: string; now: string; version: number },
): SavedModel {
  const started = performance.now();
  const failures = rows.filter((r) => r.label === 1).length;
  if (rows.length < MIN_SAMPLES)
    throw new AppError(
      'INVALID_INPUT',
      `Need at least ${MIN_SAMPLES} labelled rows to train, got ${rows.length}`,
      {
        hint: 'Run more graded spawns, or pass a JSONL file with prompt and label fields (label 1 = failure)',
      },
    );
  if (failures === 0 || failures === rows.length)
    throw new AppError(
      'INVALID_INPUT',
      `The training data has only ${failures === 0 ? 'successes' : 'failures'} (${rows.length} rows); a predictor needs both`,
      { hint: 'Add rows of the other outcome (label 1 = failure, 0 = success)' },
    );
  const seed = options.seed ?? 42;
  let used = rows;
  if (rows.length > MAX_ROWS) {
    const share = MAX_ROWS / rows.length;
    used = split(rows, seed + 11, share).test;
  }
  const { train, test } = split(used, seed, 0.2);
  const spec = buildSpec(train, VOCABULARY);
  const X = train.map((r) => vectorize(spec, r.text, r.tool));
  const forest = Forest.train(
    X,
    train.map((r) => r.label),
    seed,
  );
  const scores = forest.probabilities(test.map((r) => vectorize(spec, r.text, r.tool)));
  const labels = test.map((r) => r.label);
  return {
    format: MODEL_FORMAT,
    version: options.version,
    created_at: options.now,
    feature_spec: spec,
    settings: { ...FOREST_SETTINGS, max_rows: MAX_ROWS, vocabulary: VOCABULARY, seed },
    // A constant predictor ranks nothing: its AUC is 0.5.
    metrics: { ...metrics(labels, scores), baseline_auc: 0.5 },
    data_hash: dataHash(rows),
    samples: { total: rows.length, used: used.length, train: train.length, test: test.length, failures },
    source: options.source,
    training_ms: Math.round(performance.now() - started),
    trees: forest.trees,
    // Plain JSON (ml-matrix instances inside become arrays), as it is saved and posted from the worker.
    forests: JSON.parse(JSON.stringify(forest.toJSON())) as object[],
  };
}
