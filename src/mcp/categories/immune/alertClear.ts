import { z } from 'zod';
import { AppError } from '../../../core/errors.js';
import type { Services } from '../../services.js';
import { defineTool, ok } from '../../tool.js';

const input = z
  .object({
    id: z.string().min(1).max(80).optional().describe('The alert to clear (alert_list)'),
    all: z.boolean().optional().describe('true: clear every active alert'),
  })
  .strict();

const output = z.object({ cleared: z.number() });

export function alertClear(services: Pick<Services, 'alerts'>) {
  return defineTool({
    name: 'alert_clear',
    title: 'Clear alerts',
    description:
      'Mark one alert (id) or every active alert (all: true) as handled. Cleared alerts stay in the history (alert_list include_cleared) and a new occurrence raises a fresh alert.',
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(args) {
      if ((args.id === undefined) === (args.all !== true))
        throw new AppError('INVALID_INPUT', 'Pass either id or all: true', {
          hint: 'alert_list shows the active alerts and their ids',
        });
      const r = await services.alerts.clear(args.id ? { id: args.id } : { all: true });
      return ok(r, `Cleared ${r.cleared} alert(s).`);
    },
  });
}
