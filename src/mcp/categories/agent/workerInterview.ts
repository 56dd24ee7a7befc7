import { z } from 'zod';
import type { Services } from '../../services.js';
import { providerField } from '../../schemas/agents.js';
import { workerProfileSchema } from '../../schemas/workers.js';
import { defineTool, ok } from '../../tool.js';

const input = z
  .object({
    provider: providerField.describe('The provider to interview'),
    model: z.string().trim().min(1).max(100).optional().describe("Default: the provider's configured model"),
  })
  .strict();

export function workerInterview(services: Pick<Services, 'spawn' | 'workers'>) {
  return defineTool({
    name: 'worker_interview',
    title: 'Interview a model',
    description:
      'Grade a model deterministically on instruction following, structured JSON, summarisation, code understanding, TypeScript code generation (compiled) and confidence calibration; saves a profile active, limited (to the work it passed) or blocked, with reasons. model "auto" respects it; re-interviewing reinstates a demoted model.',
    inputSchema: input,
    outputSchema: workerProfileSchema,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    async handler(args) {
      const target = services.spawn.targetsAvailable.find((t) => t.name === args.provider);
      const model = args.model ?? target?.defaultModel;
      const p = await services.workers.interview(services.spawn, args.provider, model ?? 'default');
      const lines = Object.entries(p.skills).map(([k, v]) => `${v.pass ? 'PASS' : 'FAIL'} ${k}: ${v.detail}`);
      return ok(
        p,
        `${p.provider}/${p.model}: ${p.status.toUpperCase()}\n${lines.join('\n')}\n${p.reasons.join('\n')}`,
      );
    },
  });
}
