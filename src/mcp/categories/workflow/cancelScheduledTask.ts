import { z } from 'zod';
import type { Services } from '../../services.js';
import { jobSchema } from '../../schemas/schedule.js';
import { defineTool, ok } from '../../tool.js';

export function cancelScheduledTask(services: Pick<Services, 'scheduler'>) {
  return defineTool({
    name: 'cancel_scheduled_task',
    title: 'Cancel a scheduled task',
    description: 'Stop a scheduled command or agent run; its history stays in list_scheduled_tasks.',
    inputSchema: z
      .object({ id: z.string().min(1).max(80).describe('The job (list_scheduled_tasks)') })
      .strict(),
    outputSchema: jobSchema,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(args) {
      const job = await services.scheduler.cancel(args.id);
      return ok(job, `Cancelled ${job.id} "${job.name}".`);
    },
  });
}
