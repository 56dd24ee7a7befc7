import { z } from 'zod';
import type { Services } from '../../services.js';
import { pageFields } from '../../schemas/tasks.js';
import { defineTool, ok } from '../../tool.js';
import { paginate } from '../../../core/pagination.js';
import { sourceOf } from '../../../evaluation/trials.js';

const input = z
  .object({
    operation: z.string().max(80).optional().describe('Only this operation, e.g. spawn_agent'),
    source: z
      .string()
      .max(40)
      .optional()
      .describe("Only this source: claude_code (Claude Code's own work, from its hooks), spawn_agent, ..."),
    pass: z.boolean().optional().describe('Only passing (true) or failing (false) trials'),
    provider: z.string().max(40).optional().describe('Only this provider'),
    failure_type: z.string().max(40).optional().describe('Only this failure type, e.g. schema_violation'),
    flaky: z
      .boolean()
      .optional()
      .describe('Only trials of prompts that pass and fail alternately on their model (true)'),
    ...pageFields,
  })
  .strict();

const row = z.object({
  id: z.string(),
  operation: z.string(),
  source: z.string(),
  created_at: z.string(),
  pass: z.boolean(),
  score: z.number(),
  failure_type: z.string().optional(),
  provider: z.string().optional(),
  model: z.string().optional(),
  cost_usd: z.number().optional(),
  flaky: z.boolean().optional().describe('This prompt passes and fails alternately on this model (now)'),
  pass_rate: z.number().optional().describe("This prompt's pass rate on this model over its recent runs"),
  uncertain: z.array(z.string()).optional().describe('Judge criteria whose votes disagreed'),
  prompt_preview: z.string(),
  output_preview: z.string(),
});

const output = z.object({ trials: z.array(row), total: z.number(), next_cursor: z.string().optional() });

export function trialsList(services: Pick<Services, 'cases' | 'trials'>) {
  return defineTool({
    name: 'trials_list',
    title: 'List graded outputs',
    description:
      'Graded agent outputs (trials), newest first, filtered by operation, pass/fail, provider, failure type or flaky (prompts that pass and fail alternately on their model); paginated. trial_get shows one in full.',
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(args) {
      const { flaky, ...query } = args;
      let page = await services.trials.list(
        flaky === undefined ? query : { ...query, cursor: undefined, limit: Number.MAX_SAFE_INTEGER },
      );
      const standing = await services.cases.standings(
        page.items.flatMap((t) => (t.case ? [t.case.key] : [])),
      );
      const caseOf = (t: (typeof page.items)[number]) => (t.case ? standing.get(t.case.key) : undefined);
      if (flaky !== undefined) {
        const items = page.items.filter((t) => (caseOf(t)?.flaky ?? false) === flaky);
        page = { ...paginate(items, args), total: items.length };
      }
      const trials = page.items.map((t) => ({
        id: t.id,
        operation: t.operation,
        source: t.source ?? sourceOf(t.operation),
        created_at: t.created_at,
        pass: t.pass,
        score: t.score,
        ...(t.failure_type ? { failure_type: t.failure_type } : {}),
        ...(t.provider ? { provider: t.provider } : {}),
        ...(t.model ? { model: t.model } : {}),
        ...(t.cost_usd !== undefined ? { cost_usd: t.cost_usd } : {}),
        ...(caseOf(t) ? { flaky: caseOf(t)!.flaky, pass_rate: caseOf(t)!.pass_rate } : {}),
        ...(t.uncertain ? { uncertain: t.uncertain } : {}),
        prompt_preview: t.prompt.slice(0, 120),
        output_preview: (t.output || t.error || '').slice(0, 160),
      }));
      const text =
        page.total === 0
          ? 'No trials match.'
          : trials
              .map(
                (t) =>
                  `${t.id} ${t.pass ? 'PASS' : 'FAIL'} ${t.score}${t.failure_type ? ` ${t.failure_type}` : ''}${t.flaky ? ` FLAKY (pass rate ${t.pass_rate})` : ''}${t.uncertain ? ` uncertain: ${t.uncertain.join(',')}` : ''} ${t.operation} ${t.provider ?? ''}: ${t.prompt_preview}`,
              )
              .join('\n');
      return ok(
        { trials, total: page.total, ...(page.next_cursor ? { next_cursor: page.next_cursor } : {}) },
        text,
      );
    },
  });
}
