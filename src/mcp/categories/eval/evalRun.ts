import { z } from 'zod';
import type { Services } from '../../services.js';
import { resolveInside } from '../../../safety/paths.js';
import { loadSuite } from '../../../evaluation/suites/suiteFile.js';
import { reportOf } from '../../../evaluation/suites/report.js';
import { reportText, runSchema, runView, summarySchema } from './evalViews.js';
import { defineTool, ok } from '../../tool.js';
import path from 'node:path';

const input = z
  .object({
    suite: z
      .string()
      .min(1)
      .max(1000)
      .describe('The suite file (YAML) inside the project, e.g. evals/billing.yaml'),
    targets: z
      .array(z.string().regex(/^(openai|gemini|anthropic|claude-code)\/\S{1,200}$/))
      .max(20)
      .optional()
      .describe("provider/model to run every case on (default: the suite's providers)"),
    concurrency: z.number().int().min(1).max(16).default(4).describe('Calls at once'),
    max_cost_usd: z
      .number()
      .positive()
      .max(1000)
      .optional()
      .describe('Stop before the call that could pass this spend (answers and judges)'),
    memory: z
      .enum(['off', 'on', 'both'])
      .default('off')
      .describe(
        "on: every call gets the failure memory's guardrails (blocked calls fail); both: each model twice, plain and +memory, side by side",
      ),
    resume: z
      .string()
      .max(80)
      .optional()
      .describe('Continue this run (after a crash or a stop) instead of a new one'),
    wait_s: z
      .number()
      .min(0)
      .max(600)
      .default(60)
      .describe('Seconds to wait for the run to end before answering (it goes on in the background)'),
  })
  .strict();

const output = z.object({
  run: runSchema,
  done_cells: z.number(),
  pass_rate: z.number(),
  ci95: z.tuple([z.number(), z.number()]),
  summary: z.array(summarySchema),
  ended: z.boolean().describe('false: still running (eval_status follows it)'),
});

export function evalRun(services: Pick<Services, 'config' | 'evals' | 'agentRun'>) {
  return defineTool({
    name: 'eval_run',
    title: 'Run an evaluation suite across models',
    description:
      'Run a suite file (YAML: cases with a prompt, optional system prompt and schema, and assertions) on one or more models, with a concurrency and a cost limit; every answer is graded by its assertions and stored as a trial. Answers with the summary per model (pass rate and its 95% interval) and the case x model matrix once the run ends or wait_s passes; resume continues a stopped or crashed run without repeating finished cases.',
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    async handler(args, ctx) {
      const { config } = services;
      const file = await resolveInside([config.projectDir], args.suite, {
        what: 'Suite file',
        exclude: [config.stateDir],
      });
      const suite = await loadSuite(file, config.dataDir, services.agentRun.schemas);
      const shown = path.relative(config.projectDir, file) || file;
      const progress = (done: number, total: number, message: string) =>
        void ctx.progress(done, total, message).catch(() => undefined);
      const { run, done } = args.resume
        ? await services.evals.resume(args.resume, suite, {
            concurrency: args.concurrency,
            maxCostUsd: args.max_cost_usd,
            onProgress: progress,
          })
        : await services.evals.start(suite, {
            file: shown,
            targets: args.targets,
            memory: args.memory,
            concurrency: args.concurrency,
            maxCostUsd: args.max_cost_usd,
            onProgress: progress,
          });
      let timer: NodeJS.Timeout | undefined;
      const ended = await Promise.race([
        done.then(() => true),
        new Promise<false>((resolve) => {
          timer = setTimeout(() => resolve(false), args.wait_s * 1000);
          ctx.signal.addEventListener('abort', () => resolve(false), { once: true });
        }),
      ]).finally(() => clearTimeout(timer));
      const now = await services.evals.get(run.id);
      const report = reportOf(
        now,
        await services.evals.cellsOf(run.id),
        suite.cases.map((c) => c.id),
      );
      return ok(
        {
          run: runView(now),
          done_cells: report.done_cells,
          pass_rate: report.pass_rate,
          ci95: report.ci95,
          summary: report.summary,
          ended,
        },
        `${ended ? '' : `Still running (${report.done_cells}/${now.cells} cells): eval_status {"run_id": "${run.id}"} follows it.\n`}${reportText(report)}`,
      );
    },
  });
}
