import { z } from 'zod';
import type { Services } from '../../services.js';
import { defineTool, ok } from '../../tool.js';
import { describeSync, syncDirection, syncResult } from '../../schemas/sync.js';

export function syncTrigger(services: Services) {
  return defineTool({
    name: 'sync_trigger',
    title: 'Sync with the federation hub',
    description:
      "Sync this project's failure memory with the federation hub now: push publishes own shared patterns changed since the last push, pull imports what subscribed projects changed since the last pull. Incremental; conflicting writes resolve last-writer-wins and are reported.",
    inputSchema: z.object({ direction: syncDirection }).strict(),
    outputSchema: syncResult,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(args) {
      const r = await services.federation.sync(args.direction);
      return ok(r, describeSync(r));
    },
  });
}
