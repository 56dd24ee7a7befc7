import { z } from 'zod';
import type { Services } from '../../services.js';
import { defineTool, ok } from '../../tool.js';

const input = z
  .object({
    pattern_id: z
      .string()
      .min(1)
      .max(120)
      .describe('The pattern a check matched (immune_check, immune_failures)'),
    verdict: z
      .enum(['false_positive', 'confirmed'])
      .describe(
        'false_positive: the match was wrong (halves its strength); confirmed: it was right (reinforces it)',
      ),
  })
  .strict();

const output = z.object({
  pattern_id: z.string(),
  strength: z.number(),
  false_positives: z.number(),
});

export function immuneFeedback(services: Pick<Services, 'immune'>) {
  return defineTool({
    name: 'immune_feedback',
    title: 'Correct a failure match',
    description:
      'Tell the immune system whether a match was right: a false positive halves the pattern’s strength (it warns and blocks less, and decays away sooner); a confirmation reinforces it.',
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    async handler(args) {
      const p = await services.immune.feedback(args.pattern_id, args.verdict);
      return ok(
        { pattern_id: p.id, strength: Number(p.strength.toFixed(4)), false_positives: p.false_positives },
        `${p.id}: ${args.verdict === 'false_positive' ? 'weakened' : 'reinforced'}, strength now ${p.strength.toFixed(2)}.`,
      );
    },
  });
}
