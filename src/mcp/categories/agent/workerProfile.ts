import { z } from 'zod';
import type { Services } from '../../services.js';
import { providerField } from '../../schemas/agents.js';
import { workerProfileSchema } from '../../schemas/workers.js';
import { defineTool, ok } from '../../tool.js';

const input = z
  .object({
    provider: providerField.describe('The provider of the model'),
    model: z.string().trim().min(1).max(100).describe('The model interviewed'),
  })
  .strict();

export function workerProfile(services: Pick<Services, 'workers'>) {
  return defineTool({
    name: 'worker_profile',
    title: 'A model’s profile',
    description:
      'One interviewed model: each skill with what it answered, its status and reasons, and its trust since the interview.',
    inputSchema: input,
    outputSchema: workerProfileSchema,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(args) {
      const p = await services.workers.profile(args.provider, args.model);
      return ok(p, `${p.provider}/${p.model}: ${p.status}, trust ${p.trust}\n${p.reasons.join('\n')}`);
    },
  });
}
