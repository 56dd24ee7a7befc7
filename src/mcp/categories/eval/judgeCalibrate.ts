import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { AppError } from '../../../core/errors.js';
import { agreement, bestThreshold, parseLabelled } from '../../../evaluation/calibration.js';
import type { LabelledExample } from '../../../evaluation/calibration.js';
import { JUDGE_CRITERIA } from '../../../config/defaults.js';
import type { JudgeTarget } from '../../../evaluation/graders/judge.js';
import type { ProviderName } from '../../../agents/providers/types.js';
import { resolveInside } from '../../../safety/paths.js';

const MAX_FILE_BYTES = 20 * 1024 * 1024;
import type { Services } from '../../services.js';
import { defineTool, ok } from '../../tool.js';

const input = z
  .object({
    file: z
      .string()
      .max(1000)
      .optional()
      .describe(
        'JSONL of human-labelled examples inside the project (or "example" for the shipped set): {prompt, response, criterion, human_pass | human_score}',
      ),
    criterion: z.enum(JUDGE_CRITERIA).optional().describe('For lines without one'),
    judge: z
      .string()
      .regex(/^(openai|gemini|anthropic|claude-code)(\/.+)?$/)
      .optional()
      .describe('provider or provider/model; default: the judge spawns get'),
    threshold: z.number().min(0).max(1).default(0.7).describe('Judge pass threshold to report agreement at'),
    max_cost_usd: z
      .number()
      .min(0)
      .max(100)
      .default(1)
      .describe('Stop asking the judge once this much is spent'),
    limit: z.number().int().min(1).max(1000).default(200).describe('Most examples to judge'),
    concurrency: z.number().int().min(1).max(8).default(4).describe('Examples judged at once'),
  })
  .strict();

const agreementSchema = z.object({
  threshold: z.number(),
  n: z.number(),
  accuracy: z.number(),
  kappa: z.number().describe("Cohen's kappa: agreement beyond chance (1 perfect, 0 chance)"),
  confusion: z.object({ tp: z.number(), fp: z.number(), fn: z.number(), tn: z.number() }),
});

const output = z.object({
  file: z.string(),
  examples: z.number(),
  judged: z.number(),
  not_judged: z.array(z.object({ index: z.number(), reason: z.string() })),
  cost_usd: z.number(),
  stopped_for_budget: z.boolean(),
  at_threshold: agreementSchema,
  best: agreementSchema.optional().describe('The threshold that best matches the people'),
  by_criterion: z.record(z.string(), agreementSchema),
  disagreements: z.array(
    z.object({
      index: z.number(),
      criterion: z.string(),
      human_pass: z.boolean(),
      judge_score: z.number(),
      judge_reason: z.string(),
      prompt_preview: z.string(),
    }),
  ),
});

export function judgeCalibrate(services: Pick<Services, 'config' | 'graded'>) {
  return defineTool({
    name: 'judge_calibrate',
    title: 'Calibrate the LLM judge against people',
    description:
      'Run the LLM judge over human-labelled examples (JSONL in the project, or "example" for the shipped set) within a cost limit and report how far it agrees with the people: accuracy, Cohen\'s kappa, the confusion table, per criterion, the worst disagreements, and the pass threshold that best matches the human labels.',
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    async handler(args, ctx) {
      const { config } = services;
      const file =
        !args.file || args.file === 'example'
          ? path.join(config.dataDir, 'judge-calibration.jsonl')
          : await resolveInside([config.projectDir], args.file, {
              what: 'Labelled examples file',
              exclude: [config.stateDir],
            });
      const size = (await fs.stat(file)).size;
      if (size > MAX_FILE_BYTES)
        throw new AppError('INVALID_INPUT', `${file} is ${size} bytes; at most ${MAX_FILE_BYTES} are read`, {
          hint: 'Split the labelled examples or pass limit on a smaller file',
        });
      const source = { path: file, text: await fs.readFile(file, 'utf8') };
      const judge = services.graded.judge;
      if (!judge)
        throw new AppError('NO_PROVIDER', 'No LLM provider is configured to judge with', {
          hint: 'Set OPENAI_API_KEY, GEMINI_API_KEY or ANTHROPIC_API_KEY (or a local OPENAI_BASE_URL)',
        });
      const examples = parseLabelled(source.text, {
        criterion: args.criterion,
        threshold: args.threshold,
      }).slice(0, args.limit);
      if (examples.length === 0)
        throw new AppError('INVALID_INPUT', `${source.path} has no labelled examples`, {
          hint: 'One JSON object per line',
        });
      const target: JudgeTarget[] = args.judge
        ? [
            {
              provider: args.judge.split('/')[0] as ProviderName,
              ...(args.judge.includes('/') ? { model: args.judge.split('/').slice(1).join('/') } : {}),
            },
          ]
        : [];
      let spent = 0;
      let stopped = false;
      let next = 0;
      let done = 0;
      const results: Array<{ example: LabelledExample; index: number; score?: number; reason: string }> = [];
      const worker = async () => {
        for (;;) {
          if (ctx.signal.aborted) return;
          if (spent >= args.max_cost_usd) {
            stopped = next < examples.length;
            return;
          }
          const index = next++;
          const example = examples[index];
          if (!example) return;
          const r = await judge.grade(example.criterion, example.prompt, example.response, args.threshold, {
            judges: target,
            signal: ctx.signal,
          });
          spent += r.cost_usd;
          results.push({ example, index, ...(r.ungraded ? {} : { score: r.score }), reason: r.reason });
          done++;
          await ctx.progress(done, examples.length, `example ${index + 1}`);
        }
      };
      await Promise.all(Array.from({ length: Math.min(args.concurrency, examples.length) }, worker));
      results.sort((a, b) => a.index - b.index);
      const scored = results.filter((r) => r.score !== undefined);
      const pairs = scored.map((r) => ({ score: r.score!, human: r.example.human_pass }));
      const at = agreement(pairs, args.threshold);
      const best = bestThreshold(pairs, args.threshold);
      const byCriterion = Object.fromEntries(
        [...new Set(scored.map((r) => r.example.criterion))].map((c) => [
          c,
          agreement(
            scored
              .filter((r) => r.example.criterion === c)
              .map((r) => ({ score: r.score!, human: r.example.human_pass })),
            args.threshold,
          ),
        ]),
      );
      const disagreements = scored
        .filter((r) => r.score! >= args.threshold !== r.example.human_pass)
        .sort((a, b) => Math.abs(b.score! - args.threshold) - Math.abs(a.score! - args.threshold))
        .slice(0, 10)
        .map((r) => ({
          index: r.index,
          criterion: r.example.criterion,
          human_pass: r.example.human_pass,
          judge_score: r.score!,
          judge_reason: r.reason.slice(0, 300),
          prompt_preview: r.example.prompt.slice(0, 120),
        }));
      const value = {
        file: source.path,
        examples: examples.length,
        judged: scored.length,
        not_judged: results
          .filter((r) => r.score === undefined)
          .map((r) => ({ index: r.index, reason: r.reason })),
        cost_usd: Number(spent.toFixed(6)),
        stopped_for_budget: stopped,
        at_threshold: at,
        ...(best ? { best } : {}),
        by_criterion: byCriterion,
        disagreements,
      };
      const text = [
        `Judge vs people on ${scored.length}/${examples.length} example(s) ($${value.cost_usd}${stopped ? ', stopped at the cost limit' : ''}):`,
        `at threshold ${at.threshold}: accuracy ${at.accuracy}, kappa ${at.kappa} (judge pass/human pass ${at.confusion.tp}, judge pass/human fail ${at.confusion.fp}, judge fail/human pass ${at.confusion.fn}, both fail ${at.confusion.tn})`,
        best
          ? `best threshold ${best.threshold}: accuracy ${best.accuracy}, kappa ${best.kappa}`
          : 'no verdicts to choose a threshold from',
        ...(value.not_judged.length
          ? [`not judged: ${value.not_judged.length} (${value.not_judged[0]!.reason})`]
          : []),
      ].join('\n');
      return ok(value, text);
    },
  });
}
