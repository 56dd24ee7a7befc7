/** `train`: trains the failure predictor from a JSONL file or the trials. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { systemClock } from '../../core/clock.js';
import { describeError } from '../../core/errors.js';
import { parseTrainingJsonl } from '../../immune/prediction/dataset.js';
import { openServices } from '../services.js';
import { cliLogger, configOrExit, fatal } from '../process.js';

export async function trainCommand(options: {
  data?: string;
  fromTrials?: boolean;
  seed?: string;
}): Promise<void> {
  const config = configOrExit();
  if (!options.data === !options.fromTrials)
    fatal(new Error('pass exactly one of --data FILE or --from-trials'));
  const seed = options.seed === undefined ? undefined : Number(options.seed);
  if (seed !== undefined && (!Number.isInteger(seed) || seed < 0))
    fatal(new Error('--seed must be a non-negative integer'));
  const logger = cliLogger(config, 'error');
  const services = await openServices(config, logger, systemClock).catch(fatal);
  try {
    let rows;
    let skipped = 0;
    let source = 'trials';
    if (options.data) {
      const parsed = parseTrainingJsonl(await fs.readFile(path.resolve(options.data), 'utf8'));
      rows = parsed.rows;
      skipped = parsed.skipped;
      source = `file ${path.resolve(options.data)}`;
    } else rows = await services.trialRows();
    process.stderr.write(
      `training on ${rows.length} row(s)${skipped ? ` (${skipped} line(s) skipped)` : ''}...\n`,
    );
    const m = await services.predictor.train(rows, source, seed);
    const x = m.metrics;
    process.stdout.write(
      `model v${m.version} (${m.trees} trees, ${m.feature_spec.vocabulary.length} terms) in ${(m.training_ms / 1000).toFixed(1)} s\n` +
        `held-out ${x.support} rows: ROC AUC ${x.roc_auc} (constant 0.5), accuracy ${x.accuracy}, precision ${x.precision}, recall ${x.recall}, F1 ${x.f1}\n` +
        `saved under ${path.join(config.stateDir, 'models')}\n`,
    );
  } catch (error) {
    process.stderr.write(`task-orchestrator: ${describeError(error)}\n`);
    process.exitCode = 1;
  } finally {
    await services.close();
  }
}
