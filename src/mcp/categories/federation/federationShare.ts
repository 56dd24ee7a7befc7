import { z } from 'zod';
import type { Services } from '../../services.js';
import { defineTool, ok } from '../../tool.js';

const input = z
  .object({
    pattern_ids: z
      .array(z.string().min(1).max(120))
      .min(1)
      .max(500)
      .describe('Own pattern ids (immune_failures)'),
    shared: z.boolean().describe('true: publish to the hub on the next push; false: withdraw from it'),
  })
  .strict();

const output = z.object({ changed: z.number() });

export function federationShare(services: Pick<Services, 'immune'>) {
  return defineTool({
    name: 'federation_share',
    title: 'Share or withdraw patterns',
    description:
      "Mark this project's own failure patterns shared (published to the hub on the next push) or not (withdrawn from it). New patterns follow TASK_ORCHESTRATOR_FEDERATION_SHARE; imported patterns are never re-shared.",
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(args) {
      const r = await services.immune.share(args.pattern_ids, args.shared);
      return ok(
        r,
        `${r.changed} pattern(s) now ${args.shared ? 'shared' : 'private'}; the next push updates the hub.`,
      );
    },
  });
}
