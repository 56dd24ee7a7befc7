import { z } from 'zod';
import type { Services } from '../../services.js';
import { defineTool, ok } from '../../tool.js';

const output = z.object({
  alerts: z.array(
    z.object({
      severity: z.enum(['warning', 'critical']),
      kind: z.string().describe('sync_failed, sync_conflict or sync_lag'),
      message: z.string(),
      at: z.string(),
    }),
  ),
});

export function syncAlerts(services: Services) {
  return defineTool({
    name: 'sync_alerts',
    title: 'Sync problems',
    description:
      'Problems with federation sync that need attention: failed runs since the last good one, recent conflicts (which copy was kept and why), and lag past two sync intervals.',
    inputSchema: z.object({}).strict(),
    outputSchema: output,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler() {
      const alerts = await services.federation.alerts();
      return ok(
        { alerts },
        alerts.length
          ? alerts.map((a) => `[${a.severity}] ${a.kind}: ${a.message} (${a.at})`).join('\n')
          : 'No sync alerts.',
      );
    },
  });
}
