import { z } from 'zod';
import type { Services } from '../../services.js';
import { defineTool, ok } from '../../tool.js';

const input = z
  .object({
    apply: z.boolean().default(false).describe('Prune now (default: only show what would be pruned)'),
  })
  .strict();

const output = z.object({
  at: z.string(),
  half_life_hours: z.number(),
  stale_days: z.number(),
  prune_below: z.number(),
  patterns: z.number(),
  strong: z.number().describe('Patterns at strength 1 or more'),
  weak: z.number().describe('Patterns below the prune strength'),
  stale: z.number().describe('Patterns with no activity for stale_days'),
  pruned: z.array(
    z.object({ id: z.string(), strength: z.number(), last_activity: z.string(), failure_type: z.string() }),
  ),
  applied: z.boolean(),
});

export function federationDecay(services: Pick<Services, 'immune'>) {
  return defineTool({
    name: 'federation_decay',
    title: 'Decay of failure patterns',
    description:
      'Pattern strength halves every 72 hours; failures, matches and saves reinforce it, reported false positives halve it. Shows the strength distribution and the stale (14 days idle) weak patterns that decay prunes; apply:true prunes them now (the server also does this on a schedule).',
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    async handler(args) {
      const r = await services.immune.decay(args.apply);
      return ok(
        r,
        `${r.patterns} pattern(s): ${r.strong} strong, ${r.weak} weak, ${r.stale} stale; ${r.pruned.length} ${r.applied ? 'pruned' : 'would be pruned (apply:true to prune)'}.`,
      );
    },
  });
}
