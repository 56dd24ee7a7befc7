/**
 * The random forest behind the predictor (ml-random-forest, trained with `noOOB: true`).
 *
 * ml-cart tries a split at every label change in a feature sorted by value, each in O(n): with
 * its own bagging (rows in random order) a node costs about n² per feature, and one forest over
 * 1,000 rows of our features took ~1 s per tree, 4,000 rows ~12 s per tree. So we bag ourselves:
 * the ensemble is TOTAL_TREES / TREES_PER_FOREST small forests, each trained on its own bootstrap
 * sample of at most SAMPLES_PER_FOREST rows ordered by label, with ml-random-forest's bagging off.
 * Among equal feature values (most TF-IDF entries are 0) the labels then change at most once, so
 * a split search costs about n x distinct values. Each forest's trees differ by their random 30%
 * of the features; the probability of failure is the share of all trees voting "failure".
 * Measured: 5,000 rows in ~4 s (see bench/RESULTS.md).
 */
import { createRequire } from 'node:module';

interface RfModel {
  train(X: number[][], y: number[]): void;
  predictionValues(X: number[][]): {
    rows: number;
    columns: number;
    get(row: number, column: number): number;
  };
  toJSON(): object;
}
interface RfStatic {
  new (options: object): RfModel;
  load(json: object): RfModel;
}

const require = createRequire(import.meta.url);
const { RandomForestClassifier } = require('ml-random-forest') as { RandomForestClassifier: RfStatic };

export const FOREST_SETTINGS = {
  samplesPerForest: 800,
  treesPerForest: 3,
  totalTrees: 30,
  maxFeatures: 0.3,
  maxDepth: 8,
  minNumSamples: 5,
} as const;

export type ForestSettings = typeof FOREST_SETTINGS;

export class Forest {
  private constructor(private readonly forests: RfModel[]) {}

  /** Trains on rows `X` with labels `y` (1 = failure); `seed` makes it reproducible. */
  static train(X: number[][], y: number[], seed: number, settings: ForestSettings = FOREST_SETTINGS): Forest {
    const forests: RfModel[] = [];
    const parts = Math.max(1, Math.ceil(settings.totalTrees / settings.treesPerForest));
    const size = Math.min(X.length, settings.samplesPerForest);
    let s = seed >>> 0 || 1;
    const next = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
    for (let c = 0; c < parts; c++) {
      // Our own bootstrap sample, ordered by label: ml-cart then finds few label changes among
      // equal feature values, which is where its split search spends its time.
      const idx = Array.from({ length: size }, () => Math.floor(next() * X.length)).sort(
        (a, b) => y[a]! - y[b]! || a - b,
      );
      const rf = new RandomForestClassifier({
        nEstimators: settings.treesPerForest,
        maxFeatures: settings.maxFeatures,
        treeOptions: { maxDepth: settings.maxDepth, minNumSamples: settings.minNumSamples },
        useSampleBagging: false,
        noOOB: true,
        seed: (seed + c * 7919) | 0,
      });
      rf.train(
        idx.map((i) => X[i]!),
        idx.map((i) => y[i]!),
      );
      forests.push(rf);
    }
    return new Forest(forests);
  }

  static fromJSON(json: object[]): Forest {
    return new Forest(json.map((j) => RandomForestClassifier.load(j)));
  }

  /** Trees across the ensemble. */
  get trees(): number {
    return this.forests.reduce(
      (n, f) => n + ((f.toJSON() as { baseModel?: { nEstimators?: number } }).baseModel?.nEstimators ?? 0),
      0,
    );
  }

  toJSON(): object[] {
    return this.forests.map((f) => f.toJSON());
  }

  /** Share of trees voting failure for each row. */
  probabilities(X: number[][]): number[] {
    const votes = new Array<number>(X.length).fill(0);
    let trees = 0;
    for (const f of this.forests) {
      const pv = f.predictionValues(X);
      trees += pv.columns;
      for (let r = 0; r < pv.rows; r++)
        for (let t = 0; t < pv.columns; t++) votes[r]! += pv.get(r, t) === 1 ? 1 : 0;
    }
    return votes.map((v) => (trees ? v / trees : 0));
  }
}

/** Seeded Fisher-Yates. */
export function shuffle<T>(items: T[], seed: number): T[] {
  let s = seed >>> 0 || 1;
  const next = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
