import { z } from 'zod';
import type { Services } from '../../services.js';
import { describeSync, syncDirection, syncResult } from '../../schemas/sync.js';
import { defineTool, ok } from '../../tool.js';

export function immuneSync(services: Services) {
  return defineTool({
    name: 'immune_sync',
    title: 'Share and receive failure patterns',
    description:
      'Shortcut for sync_trigger from the immune side: push this project’s shared failure patterns to the federation hub and pull those of subscribed projects, so failures learned elsewhere guard prompts here.',
    inputSchema: z.object({ direction: syncDirection }).strict(),
    outputSchema: syncResult,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(args) {
      const r = await services.federation.sync(args.direction);
      return ok(r, describeSync(r));
    },
  });
}
