import { z } from 'zod';
import type { Services } from '../services.js';
import { defineTool, ok } from '../tool.js';

const syncResult = z.object({
  direction: z.enum(['push', 'pull', 'both']),
  pushed: z.number().describe('Own shared patterns written to the hub'),
  withdrawn: z.number().describe('Own patterns removed from the hub (unshared or pruned)'),
  pulled: z.number().describe('Patterns imported from subscribed projects'),
  updated: z.number().describe('Imported patterns refreshed'),
  removed: z.number().describe('Imported patterns their source withdrew'),
  conflicts: z.array(
    z.object({
      pattern_id: z.string(),
      project: z.string(),
      kept: z.enum(['hub', 'incoming']),
      reason: z.string(),
    }),
  ),
  duration_ms: z.number(),
});

const syncDirection = z
  .enum(['push', 'pull', 'both'])
  .default('both')
  .describe('push: publish own shared patterns; pull: import subscribed projects; both (default)');

function describeSync(r: {
  direction: string;
  pushed: number;
  withdrawn: number;
  pulled: number;
  updated: number;
  removed: number;
  conflicts: unknown[];
  duration_ms: number;
}): string {
  return `Sync ${r.direction}: pushed ${r.pushed}, withdrew ${r.withdrawn}, pulled ${r.pulled}, refreshed ${r.updated}, removed ${r.removed}, ${r.conflicts.length} conflict(s) in ${r.duration_ms} ms.`;
}

/** A tool that syncs with the hub (sync_trigger, and immune_sync from the immune side). */
export function syncTool(
  services: Pick<Services, 'federation'>,
  name: string,
  title: string,
  description: string,
) {
  return defineTool({
    name,
    title,
    description,
    inputSchema: z.object({ direction: syncDirection }).strict(),
    outputSchema: syncResult,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(args) {
      const r = await services.federation.sync(args.direction);
      return ok(r, describeSync(r));
    },
  });
}
