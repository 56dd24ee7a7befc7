/**
 * The failure predictor in the server: loads the newest model (trained ones under
 * `<state>/models/`, shipped ones under `models/`), predicts the probability that a prompt fails
 * with the features that drove it, and trains new models in a worker thread so the server keeps
 * answering. After `retrainEvery` new trials it retrains by itself, off the hot path. Without a
 * model it says so; it never makes up a probability.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Clock } from '../../core/clock.js';
import { isoTime } from '../../core/clock.js';
import { AppError } from '../../core/errors.js';
import type { ErrorCode } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { writeTextAtomic } from '../../storage/atomicFile.js';
import type { TrainingRow } from './dataset.js';
import { featureNames, vectorize } from './features.js';
import { Forest } from './forest.js';
import { MODEL_FORMAT } from './train.js';
import type { SavedModel } from './train.js';

export interface Prediction {
  probability: number;
  risk_level: 'low' | 'medium' | 'high';
  /** How far the trees agree, 0 (split evenly) to 1 (unanimous). */
  confidence: number;
  top_features: Array<{ feature: string; value: number; contribution: number }>;
  model: { version: number; created_at: string; roc_auc: number; samples: number };
}

export const HIGH_RISK = 0.7;
const KEEP_MODELS = 5;

const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** The compiled worker (the server runs from dist/; tests run from src/ after a build). */
const WORKER = path.join(packageRoot, 'dist', 'immune', 'prediction', 'trainWorker.js');

interface Loaded {
  model: SavedModel;
  forest: Forest;
  names: string[];
  file: string;
}

export interface PredictorOptions {
  stateDir: string;
  shippedDir: string;
  clock: Clock;
  logger: Logger;
  /** Retrain after this many new trials (0 = never by itself). */
  retrainEvery: number;
  /** Rows from this project's trials, for automatic and `source: trials` training. */
  trialRows: () => Promise<TrainingRow[]>;
}

export class Predictor {
  private loaded: Loaded | undefined;
  private dirStamp = '';
  private training: Promise<SavedModel> | undefined;
  private trialsSinceTraining = 0;
  private worker: Worker | undefined;
  private closed = false;
  private readonly dir: string;

  constructor(private readonly options: PredictorOptions) {
    this.dir = path.join(options.stateDir, 'models');
  }

  get isTraining(): boolean {
    return this.training !== undefined;
  }

  /** The model in use, re-read when another process saved a newer one. */
  current(): SavedModel | undefined {
    this.refresh();
    return this.loaded?.model;
  }

  private refresh(): void {
    const stamp = [this.dir, this.options.shippedDir]
      .map((d) => statSync(d, { throwIfNoEntry: false })?.mtimeMs ?? 0)
      .join(':');
    if (stamp === this.dirStamp) return;
    this.dirStamp = stamp;
    let best: { model: SavedModel; file: string } | undefined;
    for (const dir of [this.options.shippedDir, this.dir]) {
      let files: string[] = [];
      try {
        files = readdirSync(dir).filter((f) => /^predictor-.*\.json$/.test(f));
      } catch {
        continue;
      }
      for (const f of files) {
        const file = path.join(dir, f);
        try {
          const model = JSON.parse(readFileSync(file, 'utf8')) as SavedModel;
          if (model.format !== MODEL_FORMAT) continue;
          if (!best || model.created_at > best.model.created_at) best = { model, file };
        } catch (error) {
          this.options.logger.warn('unreadable predictor model skipped', { file, error });
        }
      }
    }
    if (!best) {
      this.loaded = undefined;
      return;
    }
    if (this.loaded?.file === best.file) return;
    this.loaded = {
      model: best.model,
      forest: Forest.fromJSON(best.model.forests),
      names: featureNames(best.model.feature_spec),
      file: best.file,
    };
  }

  /** Probability of failure, or undefined without a model. Cheap: the pre-spawn check uses it. */
  probability(text: string, tool?: string): number | undefined {
    this.refresh();
    if (!this.loaded) return undefined;
    return this.loaded.forest.probabilities([vectorize(this.loaded.model.feature_spec, text, tool)])[0];
  }

  /**
   * Probability with risk level, confidence and the features that moved it most (each active
   * feature's contribution is the drop in probability when it is zeroed).
   * @throws AppError NOT_FOUND when no model is trained yet.
   */
  predict(text: string, tool?: string): Prediction {
    this.refresh();
    const l = this.loaded;
    if (!l)
      throw new AppError('NOT_FOUND', 'No failure predictor is trained yet', {
        hint: 'Train one with train_predictor (eval category) or `task-orchestrator train --data FILE`; the server also trains by itself once enough trials exist',
      });
    const x = vectorize(l.model.feature_spec, text, tool);
    const variants: number[][] = [x];
    const active: number[] = [];
    x.forEach((v, i) => {
      if (v !== 0) {
        active.push(i);
        const z = [...x];
        z[i] = 0;
        variants.push(z);
      }
    });
    const probs = l.forest.probabilities(variants);
    const p = probs[0]!;
    const top_features = active
      .map((i, k) => ({
        feature: l.names[i]!,
        value: x[i]!,
        contribution: Math.round((p - probs[k + 1]!) * 1000) / 1000,
      }))
      .filter((f) => f.contribution !== 0)
      .sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution))
      .slice(0, 8);
    return {
      probability: Math.round(p * 1000) / 1000,
      risk_level: p > HIGH_RISK ? 'high' : p > 0.4 ? 'medium' : 'low',
      confidence: Math.round(Math.abs(p - 0.5) * 2 * 1000) / 1000,
      top_features,
      model: {
        version: l.model.version,
        created_at: l.model.created_at,
        roc_auc: l.model.metrics.roc_auc,
        samples: l.model.samples.total,
      },
    };
  }

  /**
   * Trains a model from `rows` in a worker thread, saves it and starts using it. One training at
   * a time per process: a second call waits for the first and trains after it.
   * @throws AppError INVALID_INPUT for too few rows or one class (from the worker).
   */
  async train(rows: TrainingRow[], source: string, seed?: number): Promise<SavedModel> {
    while (this.training) await this.training.catch(() => undefined);
    const run = this.runWorker(rows, source, seed);
    this.training = run;
    try {
      return await run;
    } finally {
      this.training = undefined;
    }
  }

  private async runWorker(rows: TrainingRow[], source: string, seed?: number): Promise<SavedModel> {
    const version = (this.current()?.version ?? 0) + 1;
    const model = await new Promise<SavedModel>((resolve, reject) => {
      if (this.closed) {
        reject(new AppError('STORAGE_CLOSED', 'The server is shutting down'));
        return;
      }
      const worker = new Worker(WORKER, {
        workerData: {
          rows,
          options: {
            source,
            now: isoTime(this.options.clock),
            version,
            ...(seed !== undefined ? { seed } : {}),
          },
        },
      });
      this.worker = worker;
      worker.once('exit', () => {
        if (this.worker === worker) this.worker = undefined;
      });
      worker.once(
        'message',
        (
          m: { ok: true; model: SavedModel } | { ok: false; code: ErrorCode; message: string; hint?: string },
        ) => {
          if (m.ok) resolve(m.model);
          else reject(new AppError(m.code, m.message, m.hint ? { hint: m.hint } : {}));
          void worker.terminate();
        },
      );
      worker.once('error', (error) =>
        reject(new AppError('INTERNAL', `Training failed: ${error.message}`, { cause: error })),
      );
      worker.once('exit', (code) => {
        if (code !== 0)
          reject(
            new AppError(
              'INTERNAL',
              this.closed
                ? 'Training was stopped by shutdown'
                : `The training worker exited with code ${code}`,
            ),
          );
      });
    });
    await mkdir(this.dir, { recursive: true });
    const file = path.join(this.dir, `predictor-${model.created_at.replace(/[:.]/g, '-')}-v${version}.json`);
    await writeTextAtomic(file, JSON.stringify(model));
    await this.prune();
    this.dirStamp = '';
    this.refresh();
    return model;
  }

  /** Keeps the newest KEEP_MODELS trained models. */
  private async prune(): Promise<void> {
    const files = readdirSync(this.dir)
      .filter((f) => /^predictor-.*\.json$/.test(f))
      .sort();
    for (const f of files.slice(0, Math.max(0, files.length - KEEP_MODELS)))
      await unlink(path.join(this.dir, f)).catch(() => undefined);
  }

  /** Counts a recorded trial; after `retrainEvery` of them, retrains in the background. */
  noteTrial(): void {
    if (this.options.retrainEvery <= 0) return;
    this.trialsSinceTraining++;
    if (this.trialsSinceTraining < this.options.retrainEvery || this.training) return;
    this.trialsSinceTraining = 0;
    void this.options
      .trialRows()
      .then((rows) => this.train(rows, 'trials (automatic)'))
      .then((m) =>
        this.options.logger.info('predictor retrained', { version: m.version, roc_auc: m.metrics.roc_auc }),
      )
      .catch((error: unknown) => this.options.logger.warn('automatic predictor training skipped', { error }));
  }

  /** Stops a running training (shutdown must not wait a minute for it). */
  async close(): Promise<void> {
    this.closed = true;
    await this.worker?.terminate();
  }

  /** Resolves when no training is running (for shutdown and tests). */
  async idle(): Promise<void> {
    while (this.training) await this.training.catch(() => undefined);
  }
}
