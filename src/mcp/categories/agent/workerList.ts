import { z } from 'zod';
import type { Services } from '../../services.js';
import { workerProfileSchema } from '../../schemas/workers.js';
import { defineTool, ok } from '../../tool.js';

export function workerList(services: Pick<Services, 'workers'>) {
  return defineTool({
    name: 'worker_list',
    title: 'Interviewed models',
    description:
      'Every interviewed model with its status (active, limited, blocked), trust from its graded runs, and why.',
    inputSchema: z.object({}).strict(),
    outputSchema: z.object({ workers: z.array(workerProfileSchema) }),
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler() {
      const workers = await services.workers.list();
      return ok(
        { workers },
        workers.length
          ? workers
              .map(
                (w) =>
                  `${w.provider}/${w.model}: ${w.status}, trust ${w.trust} (${w.runs_since_interview} runs) — ${w.reasons[0]}`,
              )
              .join('\n')
          : 'No model has been interviewed yet (worker_interview).',
      );
    },
  });
}
