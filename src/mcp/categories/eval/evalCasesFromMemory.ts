import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { Services } from '../../services.js';
import { AppError } from '../../../core/errors.js';
import {
  casesFromMemory,
  claudeCase,
  GENERATED_HEADER,
  suiteYaml,
} from '../../../evaluation/suites/fromMemory.js';
import type { RememberedFailure } from '../../../evaluation/suites/fromMemory.js';
import { ensureFolderInside, resolveInside, writeFileInside } from '../../../safety/paths.js';
import { defineTool, ok } from '../../tool.js';

const input = z
  .object({
    source: z
      .string()
      .max(40)
      .optional()
      .describe('Only failures of this source: claude_code, spawn_agent, ...'),
    failure_type: z.string().max(40).optional().describe('Only this failure type'),
    since: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}$/)
      .optional()
      .describe('Only failures seen on or after this date (YYYY-MM-DD)'),
    confirmed_only: z
      .boolean()
      .default(false)
      .describe('Only failures a person confirmed (the desk, immune_feedback)'),
    limit: z.number().int().min(1).max(500).default(50).describe('At most this many failures, newest first'),
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/)
      .default('from-memory')
      .describe('The suite name'),
    suite_file: z
      .string()
      .max(1000)
      .default('evals/from-memory.yaml')
      .describe(
        'Where to write the suite, inside the project (a file not generated here is never overwritten)',
      ),
    claude_evals: z
      .boolean()
      .default(false)
      .describe(
        "Also write each case as a `claude plugin eval` case (case.yaml) under the plugin's evals/memory/, reading this memory in the run",
      ),
  })
  .strict();

const output = z.object({
  suite_file: z.string(),
  cases: z.number(),
  claude_cases: z.array(z.string()).describe('case.yaml files written for claude plugin eval'),
  skipped: z.array(z.object({ pattern_id: z.string(), reason: z.string() })),
  run_with: z.array(z.string()).describe('Commands that run them'),
});

export function evalCasesFromMemory(services: Pick<Services, 'config' | 'immune'>) {
  return defineTool({
    name: 'eval_cases_from_memory',
    title: 'Turn remembered failures into test cases',
    description:
      "Write the failures the memory learned (by source, type, date, or only those a person confirmed) as an evaluation suite whose assertions encode why each failed, so every past failure becomes a regression test for eval_run; optionally also as `claude plugin eval` cases, to see the plugin's effect on your own past failures (--ablation with-without).",
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(args) {
      const { config } = services;
      const chosen = await services.immune.withTexts(
        (p) =>
          !p.origin &&
          (!args.source || (p.source ?? p.operation.split(':')[0]) === args.source) &&
          (!args.failure_type || p.failure_type === args.failure_type) &&
          (!args.since || p.last_seen.slice(0, 10) >= args.since) &&
          (!args.confirmed_only || (p.confirmations ?? 0) > 0),
        args.limit,
      );
      if (chosen.length === 0)
        throw new AppError('NOT_FOUND', 'No remembered failure matches', {
          hint: 'immune_failures lists what the memory holds; widen the filters',
        });
      const failures: RememberedFailure[] = chosen.map(({ pattern: p, text }) => ({
        id: p.id,
        operation: p.operation,
        source: p.source,
        failure_type: p.failure_type,
        occurrences: p.occurrences,
        grader_reasons: p.grader_reasons,
        evidence: p.evidence,
        lesson: p.lesson,
        text,
      }));
      const { cases, skipped } = casesFromMemory(failures);
      await ensureFolderInside([config.projectDir], args.suite_file, {
        what: 'Suite file',
        exclude: [config.stateDir],
      });
      const suiteFile = await resolveInside([config.projectDir], args.suite_file, {
        mustExist: false,
        what: 'Suite file',
        exclude: [config.stateDir],
      });
      const existing = await fs.readFile(suiteFile, 'utf8').catch(() => undefined);
      if (existing !== undefined && !existing.startsWith(GENERATED_HEADER))
        throw new AppError(
          'CONFLICT',
          `${args.suite_file} exists and was not generated from the memory; not overwritten`,
          {
            hint: 'Name another suite_file',
          },
        );
      const shown = path.relative(config.projectDir, suiteFile);
      if (cases.length)
        await writeFileInside([config.projectDir], shown, suiteYaml(args.name, cases), {
          what: 'Suite file',
          exclude: [config.stateDir],
        });
      const claudeCases: string[] = [];
      // The plugin's own folder (the package this server runs from): `claude plugin eval` reads
      // cases only below the plugin's root.
      const pluginRoot = path.dirname(config.dataDir);
      if (args.claude_evals) {
        for (const f of failures) {
          const c = claudeCase(f, config.stateDir);
          if ('skipped' in c) {
            skipped.push({ pattern_id: f.id, reason: `claude case: ${c.skipped}` });
            continue;
          }
          const rel = path.join('evals', 'memory', c.dir, 'case.yaml');
          await ensureFolderInside([pluginRoot], rel, { what: 'Eval case' });
          claudeCases.push(await writeFileInside([pluginRoot], rel, c.yaml, { what: 'Eval case' }));
        }
      }
      const runWith = [
        ...(cases.length ? [`task-orchestrator eval run ${shown} --providers <provider/model,...>`] : []),
        ...(claudeCases.length
          ? [
              `claude plugin eval ${pluginRoot} --eval-dir evals/memory --ablation with-without --trust-plugin`,
            ]
          : []),
      ];
      return ok(
        { suite_file: shown, cases: cases.length, claude_cases: claudeCases, skipped, run_with: runWith },
        `${cases.length} case(s) from the memory${cases.length ? ` in ${shown}` : ''}${claudeCases.length ? `; ${claudeCases.length} claude plugin eval case(s) under ${path.join(pluginRoot, 'evals', 'memory')}` : ''}${skipped.length ? `; ${skipped.length} skipped` : ''}. Run with:\n${runWith.join('\n')}`,
      );
    },
  });
}
