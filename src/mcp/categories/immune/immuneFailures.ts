import { z } from 'zod';
import type { Services } from '../../services.js';
import { pageFields } from '../../schemas/tasks.js';
import { defineTool, ok } from '../../tool.js';

const input = z
  .object({ failure_type: z.string().max(40).optional().describe('Only this failure type'), ...pageFields })
  .strict();

const pattern = z.object({
  id: z.string(),
  operation: z.string(),
  failure_type: z.string(),
  prompt_summary: z.string(),
  output_summary: z.string(),
  grader_scores: z.record(z.string(), z.number()),
  occurrences: z.number(),
  saves: z.number(),
  first_seen: z.string(),
  last_seen: z.string(),
});
const output = z.object({
  patterns: z.array(pattern),
  total: z.number(),
  next_cursor: z.string().optional(),
});

export function immuneFailures(services: Services) {
  return defineTool({
    name: 'immune_failures',
    title: 'Remembered failure patterns',
    description:
      'The failure patterns the project remembers, newest first: operation, failure type, prompt and output summaries, grader scores, occurrences and saves. Paginated.',
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(args) {
      const page = await services.immune.list(args);
      const text =
        page.total === 0
          ? 'No failure patterns yet.'
          : page.items
              .map(
                (p) =>
                  `${p.id} ${p.failure_type} x${p.occurrences} (${p.operation}): ${p.prompt_summary.slice(0, 100)}`,
              )
              .join('\n');
      return ok(
        {
          patterns: page.items,
          total: page.total,
          ...(page.next_cursor ? { next_cursor: page.next_cursor } : {}),
        },
        text,
      );
    },
  });
}
