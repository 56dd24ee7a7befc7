import { z } from 'zod';
import type { Services } from '../../services.js';
import { pageFields } from '../../schemas/tasks.js';
import { defineTool, ok } from '../../tool.js';

const input = z
  .object({
    severity: z.enum(['info', 'warning', 'critical']).optional().describe('Only alerts at least this severe'),
    include_cleared: z.boolean().default(false).describe('Also cleared alerts'),
    ...pageFields,
  })
  .strict();

const alert = z.object({
  id: z.string(),
  rule: z.enum(['HighRiskThreshold', 'FrequencySpike', 'NewPatternDetected', 'ConsecutiveFailures']),
  severity: z.enum(['info', 'warning', 'critical']),
  key: z.string(),
  title: z.string(),
  message: z.string(),
  details: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
  count: z.number().describe('Times it fired; repeats within the cooldown merge'),
  first_at: z.string(),
  last_at: z.string(),
  escalated_at: z.string().optional().describe('When a repeat raised its severity (notified again)'),
  cleared_at: z.string().optional(),
  deliveries: z.array(
    z.object({
      channel: z.string(),
      ok: z.boolean(),
      attempts: z.number(),
      status: z.number().optional(),
      error: z.string().optional(),
      at: z.string(),
    }),
  ),
});
const output = z.object({ alerts: z.array(alert), total: z.number(), next_cursor: z.string().optional() });

export function alertList(services: Pick<Services, 'alerts'>) {
  return defineTool({
    name: 'alert_list',
    title: 'Alerts on risky patterns',
    description:
      'Alerts raised by the rules HighRiskThreshold (risky prompt, critical if blocked), FrequencySpike (failures per hour), NewPatternDetected and ConsecutiveFailures (one operation and model), newest first, with repeat counts and notifier deliveries. Paginated.',
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(args) {
      const page = await services.alerts.list(args);
      return ok(
        {
          alerts: page.items,
          total: page.total,
          ...(page.next_cursor ? { next_cursor: page.next_cursor } : {}),
        },
        page.total === 0
          ? 'No alerts.'
          : page.items
              .map(
                (a) => `${a.id} [${a.severity}] ${a.rule}${a.count > 1 ? ` x${a.count}` : ''}: ${a.message}`,
              )
              .join('\n'),
      );
    },
  });
}
