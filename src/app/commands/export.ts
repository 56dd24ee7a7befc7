/** `export`: graded trials as training data (JSONL). */
import path from 'node:path';
import { systemClock } from '../../core/clock.js';
import { writeExport } from '../../evaluation/export.js';
import { EXPORT_FORMATS } from '../../evaluation/exportFormats.js';
import type { ExportFormat } from '../../evaluation/exportFormats.js';
import { openServices } from '../services.js';
import { cliLogger, configOrExit, fatal } from '../process.js';

export async function exportCommand(options: {
  format: string;
  out: string;
  since?: string;
  label?: string;
  limit?: string;
  source?: string;
}): Promise<void> {
  const config = configOrExit();
  if (!(EXPORT_FORMATS as readonly string[]).includes(options.format)) {
    fatal(new Error(`--format must be one of ${EXPORT_FORMATS.join(', ')}`));
  }
  if (options.label && !['pass', 'fail', 'all'].includes(options.label))
    fatal(new Error('--label must be pass, fail or all'));
  const limit = options.limit === undefined ? undefined : Number(options.limit);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1))
    fatal(new Error('--limit must be a positive integer'));
  const logger = cliLogger(config, 'error');
  const services = await openServices(config, logger, systemClock).catch(fatal);
  const trials = (await services.trials.list({ limit: Number.MAX_SAFE_INTEGER })).items.reverse();
  const lines = await writeExport(path.resolve(options.out), trials, {
    format: options.format as ExportFormat,
    since: options.since,
    label: options.label as 'pass' | 'fail' | 'all' | undefined,
    limit,
    source: options.source,
    secrets: config.secrets,
    patterns: config.redactPatterns,
    flaky: await services.cases.flakyKeys(),
  });
  await services.close();
  process.stderr.write(`wrote ${lines} line(s) of ${options.format} to ${path.resolve(options.out)}\n`);
}
