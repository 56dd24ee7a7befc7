import { z } from 'zod';
import type { Services } from '../../services.js';
import { defineTool, ok } from '../../tool.js';

const run = z.object({
  at: z.string(),
  direction: z.enum(['push', 'pull', 'both']),
  trigger: z.enum(['tool', 'schedule']),
  ok: z.boolean(),
  pushed: z.number(),
  withdrawn: z.number(),
  pulled: z.number(),
  updated: z.number(),
  removed: z.number(),
  conflicts: z.number(),
  duration_ms: z.number(),
  error: z.string().optional(),
});

const output = z.object({
  configured: z.boolean(),
  project: z.string(),
  last_push: z.string().optional(),
  last_pull: z.string().optional(),
  unpushed_changes: z.number().describe('Own patterns changed since the last push'),
  behind: z.record(z.string(), z.number()).describe('Per subscription: hub revisions not pulled yet'),
  recent: z.array(run).describe('Last 10 sync runs, newest first'),
  failures_24h: z.number(),
});

export function syncStatus(services: Pick<Services, 'federation'>) {
  return defineTool({
    name: 'sync_status',
    title: 'Sync lag and history',
    description:
      'How far this project is from the federation hub: own changes not pushed, revisions of each subscribed project not pulled, the last push and pull, and the recent sync runs with failures.',
    inputSchema: z.object({}).strict(),
    outputSchema: output,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler() {
      const s = await services.federation.syncStatus();
      const behind = Object.entries(s.behind)
        .map(([p, n]) => `${p} ${n}`)
        .join(', ');
      return ok(
        s,
        s.configured
          ? `Last push ${s.last_push ?? 'never'}, last pull ${s.last_pull ?? 'never'}; ${s.unpushed_changes} change(s) to push; behind: ${behind || 'nothing'}; ${s.failures_24h} failure(s) in 24 h.`
          : 'No federation hub configured (TASK_ORCHESTRATOR_FEDERATION_DIR); nothing to sync.',
      );
    },
  });
}
