import { z } from 'zod';
import type { Services } from '../../services.js';
import { defineTool, ok } from '../../tool.js';

const output = z.object({
  patterns: z.number(),
  occurrences: z.number(),
  saves: z.number().describe('Guarded prompts that then succeeded'),
  imported: z.number().describe('Patterns imported from other projects'),
  shared: z.number().describe('Own patterns shared with the federation hub'),
  weak: z.number().describe('Patterns decayed below the prune strength'),
  guardrails_edited: z.number().describe('Patterns whose guardrail text a person wrote (review desk)'),
  by_failure_type: z.record(z.string(), z.number()),
  block_threshold: z.number(),
  variants: z.number().describe('Wordings merged into patterns (one pattern per problem)'),
  escalated: z.number().describe('Patterns that block their own problem now'),
  lessons: z.number().describe('Patterns with a lesson (what worked after they failed)'),
  matching: z
    .object({
      stages: z
        .array(z.string())
        .describe('tfidf, then semantic when an embedding model is configured, then judge when on'),
      merge_threshold: z
        .number()
        .describe('Similarity at which a failure joins a pattern (the same problem)'),
      semantic: z
        .object({
          model: z.string(),
          indexed: z.number().describe('Wordings with a vector'),
          waiting: z.number().describe('Wordings still to embed (in the background)'),
          calls: z.number(),
          texts: z.number(),
          cached: z.number().describe('Texts answered from the cache'),
          failures: z.number(),
          average_call_ms: z.number().describe('What an embedding call adds to a check that is not cached'),
          last_error: z.string().optional(),
        })
        .optional(),
    })
    .describe('How prompts are matched to remembered failures'),
});

export function immuneStatus(services: Pick<Services, 'immune'>) {
  return defineTool({
    name: 'immune_status',
    title: 'Failure memory status',
    description:
      'How many failure patterns the project remembers, how often they occurred by failure type, how many guarded prompts were saved, and the blocking threshold.',
    inputSchema: z.object({}).strict(),
    outputSchema: output,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler() {
      const s = await services.immune.status();
      const types = Object.entries(s.by_failure_type)
        .map(([t, n]) => `${t} ${n}`)
        .join(', ');
      return ok(
        s,
        `${s.patterns} pattern(s), ${s.occurrences} failure(s)${types ? ` (${types})` : ''}, ${s.saves} save(s), ${s.escalated} escalated; blocking at risk ${s.block_threshold}; matching by ${s.matching.stages.join(' + ')}${s.matching.semantic ? ` (${s.matching.semantic.model}${s.matching.semantic.last_error ? `, last error: ${s.matching.semantic.last_error}` : ''})` : ''}.`,
      );
    },
  });
}
