import { z } from 'zod';
import type { Services } from '../../services.js';
import { defineTool, ok } from '../../tool.js';

const output = z.object({
  alerts: z.array(
    z.object({
      severity: z.enum(['info', 'warning', 'critical']),
      kind: z
        .string()
        .describe(
          'sync_failed, sync_conflict, sync_lag, or an alert rule (HighRiskThreshold, FrequencySpike, ...)',
        ),
      message: z.string(),
      at: z.string(),
    }),
  ),
});

export function syncAlerts(services: Pick<Services, 'alerts' | 'federation'>) {
  return defineTool({
    name: 'sync_alerts',
    title: 'Sync problems',
    description:
      'Problems that need attention: failed federation syncs since the last good one, recent conflicts (which copy was kept and why), lag past two sync intervals, and the active alerts of the alert rules (alert_list for details).',
    inputSchema: z.object({}).strict(),
    outputSchema: output,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler() {
      const active = await services.alerts.list({ limit: 50 });
      const alerts = [
        ...(await services.federation.alerts()),
        ...active.items.map((a) => ({
          severity: a.severity,
          kind: a.rule,
          message: `${a.message}${a.count > 1 ? ` (x${a.count})` : ''} [${a.id}]`,
          at: a.last_at,
        })),
      ];
      return ok(
        { alerts },
        alerts.length
          ? alerts.map((a) => `[${a.severity}] ${a.kind}: ${a.message} (${a.at})`).join('\n')
          : 'No sync alerts.',
      );
    },
  });
}
