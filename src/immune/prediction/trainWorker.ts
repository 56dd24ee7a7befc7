/**
 * Worker-thread entry: trains a model from the rows in workerData and posts it back (or the error).
 * Started by Predictor.train; never imported by the server itself.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { AppError } from '../../core/errors.js';
import type { TrainingRow } from './dataset.js';
import { trainModel } from './train.js';

const input = workerData as {
  rows: TrainingRow[];
  options: { seed?: number; source: string; now: string; version: number };
};
try {
  parentPort!.postMessage({ ok: true, model: trainModel(input.rows, input.options) });
} catch (error) {
  parentPort!.postMessage({
    ok: false,
    code: error instanceof AppError ? error.code : 'INTERNAL',
    message: error instanceof Error ? error.message : String(error),
    hint: error instanceof AppError ? error.hint : undefined,
  });
}
