import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { writeExport } from '../../../evaluation/export.js';
import { EXPORT_FORMATS } from '../../../evaluation/exportFormats.js';
import type { Services } from '../../services.js';
import { defineTool, ok } from '../../tool.js';

const input = z
  .object({
    format: z.enum(EXPORT_FORMATS).describe('openai_sft | openai_preference | gemini_sft | langfuse | full'),
    since: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}/)
      .optional()
      .describe('Only trials from this ISO date on'),
    label: z
      .enum(['pass', 'fail', 'all'])
      .optional()
      .describe('Default: pass for SFT formats, all otherwise'),
    limit: z.number().int().min(1).max(1_000_000).optional().describe('Most lines to write'),
    source: z
      .string()
      .max(40)
      .optional()
      .describe("Only this source: claude_code (Claude Code's own work), spawn_agent, ..."),
  })
  .strict();

const output = z.object({ file: z.string(), lines: z.number(), format: z.string() });

export function exportTrainingData(services: Pick<Services, 'cases' | 'clock' | 'config' | 'trials'>) {
  return defineTool({
    name: 'export_training_data',
    title: 'Export training data',
    description:
      "Write graded trials as JSONL for fine-tuning or evaluation: OpenAI chat SFT, OpenAI preference pairs (a passing and a failing answer to the same prompt), Gemini/Vertex SFT, Langfuse dataset items, or full records. Secrets are scrubbed; SFT formats leave out flaky prompts, the others mark them. The file goes to the state folder's exports/.",
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    async handler(args) {
      const dir = path.join(services.config.stateDir, 'exports');
      await fs.mkdir(dir, { recursive: true });
      const stamp = new Date(services.clock.now()).toISOString().replace(/[:.]/g, '-');
      const file = path.join(dir, `${args.format}-${stamp}.jsonl`);
      const trials = (await services.trials.list({ limit: Number.MAX_SAFE_INTEGER })).items.reverse();
      const lines = await writeExport(file, trials, {
        ...args,
        secrets: services.config.secrets,
        patterns: services.config.redactPatterns,
        flaky: await services.cases.flakyKeys(),
      });
      return ok({ file, lines, format: args.format }, `Wrote ${lines} line(s) of ${args.format} to ${file}.`);
    },
  });
}
