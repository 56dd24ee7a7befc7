import { z } from 'zod';
import type { Services } from '../../services.js';
import { pageFields } from '../../schemas/tasks.js';
import { defineTool, ok } from '../../tool.js';

const input = z
  .object({
    operation: z.string().max(80).optional().describe('Only this operation, e.g. spawn_agent'),
    pass: z.boolean().optional().describe('Only passing (true) or failing (false) trials'),
    provider: z.string().max(40).optional().describe('Only this provider'),
    failure_type: z.string().max(40).optional().describe('Only this failure type, e.g. schema_violation'),
    ...pageFields,
  })
  .strict();

const row = z.object({
  id: z.string(),
  operation: z.string(),
  created_at: z.string(),
  pass: z.boolean(),
  score: z.number(),
  failure_type: z.string().optional(),
  provider: z.string().optional(),
  model: z.string().optional(),
  cost_usd: z.number().optional(),
  prompt_preview: z.string(),
  output_preview: z.string(),
});

const output = z.object({ trials: z.array(row), total: z.number(), next_cursor: z.string().optional() });

export function trialsList(services: Pick<Services, 'trials'>) {
  return defineTool({
    name: 'trials_list',
    title: 'List graded outputs',
    description:
      'Graded agent outputs (trials), newest first, filtered by operation, pass/fail, provider or failure type; paginated. trial_get shows one in full.',
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(args) {
      const page = await services.trials.list(args);
      const trials = page.items.map((t) => ({
        id: t.id,
        operation: t.operation,
        created_at: t.created_at,
        pass: t.pass,
        score: t.score,
        ...(t.failure_type ? { failure_type: t.failure_type } : {}),
        ...(t.provider ? { provider: t.provider } : {}),
        ...(t.model ? { model: t.model } : {}),
        ...(t.cost_usd !== undefined ? { cost_usd: t.cost_usd } : {}),
        prompt_preview: t.prompt.slice(0, 120),
        output_preview: (t.output || t.error || '').slice(0, 160),
      }));
      const text =
        page.total === 0
          ? 'No trials match.'
          : trials
              .map(
                (t) =>
                  `${t.id} ${t.pass ? 'PASS' : 'FAIL'} ${t.score}${t.failure_type ? ` ${t.failure_type}` : ''} ${t.operation} ${t.provider ?? ''}: ${t.prompt_preview}`,
              )
              .join('\n');
      return ok(
        { trials, total: page.total, ...(page.next_cursor ? { next_cursor: page.next_cursor } : {}) },
        text,
      );
    },
  });
}
