import { z } from 'zod';
import type { Services } from '../../services.js';
import { jobSchema } from '../../schemas/schedule.js';
import { defineTool, ok } from '../../tool.js';

const input = z
  .object({ status: z.enum(['active', 'done', 'cancelled']).optional().describe('Only jobs in this state') })
  .strict();

export function listScheduledTasks(services: Pick<Services, 'scheduler'>) {
  return defineTool({
    name: 'list_scheduled_tasks',
    title: 'Scheduled tasks',
    description:
      'Scheduled commands and agent runs: when they run next, how often they ran, and their last runs with outcomes.',
    inputSchema: input,
    outputSchema: z.object({ jobs: z.array(jobSchema) }),
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(args) {
      const jobs = await services.scheduler.list(args.status);
      return ok(
        { jobs },
        jobs.length
          ? jobs
              .map(
                (j) =>
                  `${j.id} [${j.status}] ${j.name}: next ${j.next_run ?? '—'}, ran ${j.run_count}x${j.runs.at(-1) ? `, last ${j.runs.at(-1)!.status}` : ''}`,
              )
              .join('\n')
          : 'Nothing is scheduled.',
      );
    },
  });
}
