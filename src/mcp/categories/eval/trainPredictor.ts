import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { resolveInside } from '../../../safety/paths.js';
import { AppError } from '../../../core/errors.js';
import { parseTrainingJsonl } from '../../../immune/prediction/dataset.js';
import type { Services } from '../../services.js';
import { defineTool, ok } from '../../tool.js';

const input = z
  .object({
    source: z
      .enum(['trials', 'file'])
      .default('trials')
      .describe("trials: this project's graded trials; file: a JSONL file in the project"),
    path: z
      .string()
      .min(1)
      .max(1000)
      .optional()
      .describe(
        'For source "file": JSONL with prompt/input/input_prompt and label (1 = failure)/success/pass_fail/error',
      ),
    trials_source: z
      .string()
      .max(40)
      .optional()
      .describe(
        "With source trials: only trials of this source (claude_code: Claude Code's own work, spawn_agent, ...)",
      ),
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31 - 1)
      .optional()
      .describe('Split and forest seed (default 42)'),
  })
  .strict();

const output = z.object({
  version: z.number(),
  created_at: z.string(),
  metrics: z.object({
    accuracy: z.number(),
    precision: z.number(),
    recall: z.number(),
    f1: z.number(),
    roc_auc: z.number(),
    baseline_auc: z.number().describe('A constant predictor'),
    support: z.number().describe('Held-out rows the metrics come from'),
  }),
  samples: z.object({
    total: z.number(),
    used: z.number(),
    train: z.number(),
    test: z.number(),
    failures: z.number(),
  }),
  skipped_lines: z.number(),
  vocabulary_terms: z.number(),
  trees: z.number(),
  training_ms: z.number(),
  data_hash: z.string(),
});

export function trainPredictor(services: Pick<Services, 'config' | 'predictor' | 'trialRows'>) {
  return defineTool({
    name: 'train_predictor',
    title: 'Train the failure predictor',
    description:
      "Train the random-forest failure predictor (TF-IDF terms and meta features of the prompt and tool) from this project's trials or a JSONL file, in a worker thread; stratified 80/20 split; returns accuracy, precision, recall, F1 and ROC AUC on the held-out part. The model is saved and used by predict_risk and the pre-spawn check at once.",
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    async handler(args, ctx) {
      let rows;
      let skipped = 0;
      let source: string;
      if (args.source === 'file') {
        if (!args.path)
          throw new AppError('INVALID_INPUT', 'source "file" needs a path', {
            hint: 'Pass path: the JSONL file, relative to the project folder',
          });
        const file = await resolveInside([services.config.projectDir], args.path);
        const parsed = parseTrainingJsonl(await readFile(file, 'utf8'));
        rows = parsed.rows;
        skipped = parsed.skipped;
        source = `file ${args.path}`;
      } else {
        rows = await services.trialRows(args.trials_source);
        source = 'trials';
      }
      await ctx.progress(0, 1, `training on ${rows.length} rows`);
      const m = await services.predictor.train(rows, source, args.seed);
      await ctx.progress(1, 1, 'trained');
      const value = {
        version: m.version,
        created_at: m.created_at,
        metrics: m.metrics,
        samples: m.samples,
        skipped_lines: skipped,
        vocabulary_terms: m.feature_spec.vocabulary.length,
        trees: m.trees,
        training_ms: m.training_ms,
        data_hash: m.data_hash,
      };
      const x = m.metrics;
      return ok(
        value,
        `Model v${m.version} from ${m.samples.total} rows (${m.samples.failures} failures${skipped ? `, ${skipped} lines skipped` : ''}) in ${(m.training_ms / 1000).toFixed(1)} s: ROC AUC ${x.roc_auc} (constant predictor 0.5), accuracy ${x.accuracy}, precision ${x.precision}, recall ${x.recall}, F1 ${x.f1} on ${x.support} held-out rows.`,
      );
    },
  });
}
