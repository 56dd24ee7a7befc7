import { z } from 'zod';
import { AppError } from '../../../core/errors.js';
import type { Services } from '../../services.js';
import { defineTool, ok } from '../../tool.js';

const input = z
  .object({ trial_id: z.string().min(1).max(40).describe('A trial id from trials_list or a spawn result') })
  .strict();

const output = z.object({ trial: z.record(z.string(), z.unknown()).describe('Every field of the trial') });

export function trialGet(services: Pick<Services, 'trials'>) {
  return defineTool({
    name: 'trial_get',
    title: 'Get a graded output',
    description:
      'One trial in full: prompt and output (bounded), provider, model, usage, cost, latency, breaker state, every grader result, pass/fail and failure type.',
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(args) {
      const trial = await services.trials.get(args.trial_id);
      if (!trial)
        throw new AppError('NOT_FOUND', `Trial "${args.trial_id}" not found`, {
          hint: 'trials_list shows trial ids',
        });
      const graders = trial.graders
        .map((g) => `${g.pass ? 'ok  ' : 'FAIL'} ${g.grader}: ${g.reason}`)
        .join('\n');
      return ok(
        { trial: trial as unknown as Record<string, unknown> },
        `${trial.id} ${trial.pass ? 'PASS' : 'FAIL'} ${trial.score}${trial.failure_type ? ` (${trial.failure_type})` : ''} — ${trial.operation}${trial.provider ? ` via ${trial.provider}/${trial.model}` : ''}\n${graders}${trial.error ? `\nerror: ${trial.error}` : ''}\n\nPrompt:\n${trial.prompt.slice(0, 2000)}\n\nOutput:\n${trial.output.slice(0, 4000)}`,
      );
    },
  });
}
