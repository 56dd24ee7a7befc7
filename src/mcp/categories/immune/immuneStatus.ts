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
        `${s.patterns} pattern(s), ${s.occurrences} failure(s)${types ? ` (${types})` : ''}, ${s.saves} save(s); blocking at risk ${s.block_threshold}.`,
      );
    },
  });
}
