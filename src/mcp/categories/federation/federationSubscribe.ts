import { z } from 'zod';
import type { Services } from '../../services.js';
import { defineTool, ok } from '../../tool.js';

const input = z
  .object({
    project: z
      .string()
      .trim()
      .min(1)
      .max(48)
      .describe('The project to follow, as federation_status lists it'),
    unsubscribe: z.boolean().default(false).describe('Stop following it instead'),
  })
  .strict();

const output = z.object({
  subscriptions: z.array(z.string()),
  known: z
    .boolean()
    .describe('Whether the hub already holds this project (subscribing ahead of it is allowed)'),
});

export function federationSubscribe(services: Pick<Services, 'federation'>) {
  return defineTool({
    name: 'federation_subscribe',
    title: 'Follow another project',
    description:
      "Subscribe to another project's shared failure patterns (or unsubscribe). Each pull (sync_trigger, or the scheduled sync) then imports its new and changed patterns with their lineage, so its failures guard this project's prompts.",
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(args) {
      const r = await services.federation.subscribe(args.project, args.unsubscribe);
      return ok(
        r,
        `${args.unsubscribe ? 'Unsubscribed from' : 'Subscribed to'} ${args.project}${r.known || args.unsubscribe ? '' : ' (not in the hub yet)'}; subscriptions: ${r.subscriptions.join(', ') || 'none'}.${args.unsubscribe ? '' : ' Run sync_trigger{direction:"pull"} to import now.'}`,
      );
    },
  });
}
