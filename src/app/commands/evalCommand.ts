/**
 * `eval run <suite>` and `eval compare <before> <after>`: suite runs from the command line, for CI.
 * Exit codes: 0 passed; 1 a regression (below --fail-under, or significantly worse than the pinned
 * baseline with --baseline) or the run stopped early; 2 the suite or the options are wrong.
 */
import path from 'node:path';
import { systemClock } from '../../core/clock.js';
import { describeError } from '../../core/errors.js';
import { loadSuite } from '../../evaluation/suites/suiteFile.js';
import {
  diffMarkdown,
  diffRuns,
  junitXml,
  reportMarkdown,
  reportOf,
} from '../../evaluation/suites/report.js';
import type { RunDiff, RunReport } from '../../evaluation/suites/report.js';
import { ensureFolderInside, writeFileInside } from '../../safety/paths.js';
import { openServices } from '../services.js';
import { cliLogger, configOrExit } from '../process.js';

function usage(message: string): never {
  process.stderr.write(`task-orchestrator eval: ${message}\n`);
  process.exit(2);
}

function number(value: string | undefined, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max)
    usage(`${name} must be a number from ${min} to ${max} (got ${value})`);
  return n;
}

export async function evalRunCommand(
  suiteArg: string,
  options: {
    providers?: string;
    concurrency?: string;
    maxCost?: string;
    failUnder?: string;
    baseline?: boolean;
    pin?: boolean;
    resume?: string;
    memory?: string;
    junit?: string;
    json?: boolean;
  },
): Promise<void> {
  const config = configOrExit();
  const failUnder = number(options.failUnder, '--fail-under', 0, 1);
  const concurrency = number(options.concurrency, '--concurrency', 1, 32);
  const maxCost = number(options.maxCost, '--max-cost', 0.000001, 100_000);
  if (options.memory && !['off', 'on', 'both'].includes(options.memory))
    usage(`--memory must be off, on or both (got ${options.memory})`);
  const memory = options.memory as 'off' | 'on' | 'both' | undefined;
  const targets = options.providers
    ?.split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  const logger = cliLogger(config, 'error');
  const services = await openServices(config, logger, systemClock).catch((error: unknown) =>
    usage(describeError(error)),
  );
  let code = 0;
  try {
    const file = path.resolve(suiteArg);
    let suite;
    try {
      suite = await loadSuite(file, config.dataDir, services.agentRun.schemas);
    } catch (error) {
      usage(describeError(error));
    }
    const shown = path.relative(config.projectDir, file) || file;
    const progress = (done: number, total: number, message: string) => {
      if (!options.json) process.stderr.write(`  [${done}/${total}] ${message}\n`);
    };
    let started;
    try {
      started = options.resume
        ? await services.evals.resume(options.resume, suite, {
            concurrency,
            maxCostUsd: maxCost,
            onProgress: progress,
          })
        : await services.evals.start(suite, {
            file: shown,
            targets,
            memory,
            concurrency,
            maxCostUsd: maxCost,
            onProgress: progress,
          });
    } catch (error) {
      usage(describeError(error));
    }
    const run = await started.done;
    const report: RunReport = reportOf(
      run,
      await services.evals.cellsOf(run.id),
      suite.cases.map((c) => c.id),
    );
    let diff: RunDiff | undefined;
    if (options.baseline) {
      const baseline = await services.evals.baselineOf(run.suite);
      if (baseline) {
        const before = await services.evals.get(baseline);
        diff = diffRuns(reportOf(before, await services.evals.cellsOf(baseline)), report);
      } else if (!options.json) process.stderr.write(`no baseline pinned for ${run.suite} yet\n`);
    }
    const reasons: string[] = [];
    if (run.status !== 'done')
      reasons.push(`the run ${run.status}${run.stop_reason ? `: ${run.stop_reason}` : ''}`);
    if (failUnder !== undefined && report.pass_rate < failUnder)
      reasons.push(`pass rate ${report.pass_rate} is under --fail-under ${failUnder}`);
    if (diff?.regression) reasons.push(`regression against the baseline: ${diff.verdict}`);
    code = reasons.length ? 1 : 0;
    if (options.pin && run.status === 'done' && code === 0) await services.evals.pinBaseline(run.id);
    if (options.junit) {
      // Inside the project only (a CI artifact), never through a link; its folder is made if missing.
      await ensureFolderInside([config.projectDir], options.junit, {
        what: 'JUnit file',
        exclude: [config.stateDir],
      });
      await writeFileInside([config.projectDir], options.junit, junitXml(report), {
        what: 'JUnit file',
        exclude: [config.stateDir],
      });
    }
    if (options.json)
      process.stdout.write(
        `${JSON.stringify({ run, pass_rate: report.pass_rate, ci95: report.ci95, summary: report.summary, matrix: report.matrix, ...(diff ? { baseline: diff } : {}), failed: reasons }, null, 2)}\n`,
      );
    else {
      process.stdout.write(`${reportMarkdown(report)}\n`);
      if (diff) process.stdout.write(`\n${diffMarkdown(diff)}\n`);
      process.stdout.write(
        code === 0
          ? `\nPASSED${options.pin && run.status === 'done' ? ` (${run.id} pinned as the baseline)` : ''}\n`
          : `\nFAILED: ${reasons.join('; ')}\n`,
      );
    }
  } finally {
    await services.close();
  }
  process.exitCode = code;
}

export async function evalCompareCommand(
  before: string,
  after: string,
  options: { json?: boolean },
): Promise<void> {
  const config = configOrExit();
  const services = await openServices(config, cliLogger(config, 'error'), systemClock).catch(
    (error: unknown) => usage(describeError(error)),
  );
  try {
    const [a, b] = await Promise.all([services.evals.get(before), services.evals.get(after)]).catch(
      (error: unknown) => usage(describeError(error)),
    );
    const diff = diffRuns(
      reportOf(a, await services.evals.cellsOf(a.id)),
      reportOf(b, await services.evals.cellsOf(b.id)),
    );
    process.stdout.write(options.json ? `${JSON.stringify(diff, null, 2)}\n` : `${diffMarkdown(diff)}\n`);
    process.exitCode = diff.regression ? 1 : 0;
  } finally {
    await services.close();
  }
}

/** Used by tests of the suite format: prints the first problem of a suite file (exit 2) or "ok". */
export async function evalCheckCommand(suiteArg: string): Promise<void> {
  const config = configOrExit();
  const { SchemaCache } = await import('../../core/jsonSchema.js');
  try {
    const suite = await loadSuite(path.resolve(suiteArg), config.dataDir, new SchemaCache());
    process.stdout.write(`ok: ${suite.name}, ${suite.cases.length} case(s)\n`);
  } catch (error) {
    usage(describeError(error));
  }
}
