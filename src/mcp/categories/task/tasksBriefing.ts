import { z } from 'zod';
import { briefing } from '../../../tasks/analysis.js';
import type { Services } from '../../services.js';
import { defineTool, ok } from '../../tool.js';
import { DETERMINISTIC_NOTE } from './fallback.js';

const input = z
  .object({
    horizon_days: z
      .number()
      .int()
      .min(1)
      .max(30)
      .default(1)
      .describe('Look ahead this many days; default 1 (today)'),
  })
  .strict();

const ids = z.array(z.string());
const output = z.object({
  mode: z.literal('deterministic'),
  mode_reason: z.string(),
  date: z.string(),
  due_today: ids,
  overdue: ids,
  in_progress: ids,
  blocked: ids,
  next_up: ids,
  recently_completed: ids,
  text: z.string(),
});

export function tasksBriefing(services: Pick<Services, 'clock' | 'tasks'>) {
  return defineTool({
    name: 'tasks_briefing',
    title: 'Daily briefing',
    description:
      'A short briefing: what is due (today or within horizon_days), overdue, in progress (with its last note), blocked (and on what), what to start next, and what was just completed.',
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(args) {
      const now = new Date(services.clock.now());
      const b = await services.tasks.read((state) => briefing(state, now, args.horizon_days));
      return ok(
        { mode: 'deterministic' as const, mode_reason: DETERMINISTIC_NOTE, ...b },
        `${b.text}\n\n${DETERMINISTIC_NOTE}`,
      );
    },
  });
}
