import { z } from 'zod';
import { analyze } from '../../../tasks/analysis.js';
import { resolveId } from '../../../tasks/summary.js';
import type { Services } from '../../services.js';
import { taskRef } from '../../schemas/tasks.js';
import { defineTool, ok } from '../../tool.js';
import { DETERMINISTIC_NOTE } from './fallback.js';

const input = z
  .object({
    task_id: taskRef.optional().describe('Analyse only this task and its subtasks; default everything'),
  })
  .strict();

const output = z.object({
  mode: z.literal('deterministic'),
  mode_reason: z.string(),
  total: z.number(),
  by_status: z.record(z.string(), z.number()),
  by_priority: z.record(z.string(), z.number()),
  open: z.number(),
  ready_to_start: z.number(),
  blocked: z.number(),
  overdue: z.number(),
  completed_last_7_days: z.number(),
  completed_per_day_14d: z.number(),
  open_estimate_hours: z.number(),
  complexity: z.object({
    scored: z.number(),
    mean: z.number().optional(),
    hardest: z.array(z.object({ task: z.string(), title: z.string(), complexity: z.number() })),
  }),
  bottlenecks: z.array(z.object({ task: z.string(), title: z.string(), waiting: z.number() })),
  longest_chain: z.number(),
  risks: z.array(z.string()),
});

export function tasksAnalyze(services: Pick<Services, 'clock' | 'tasks'>) {
  return defineTool({
    name: 'tasks_analyze',
    title: 'Analyse the work',
    description:
      'Where the work stands: counts by status and priority, what can start, what is blocked or overdue, throughput, complexity scores, bottlenecks (tasks with the longest chains waiting on them) and risks. For all tasks or one subtree.',
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(args) {
      const now = new Date(services.clock.now());
      const a = await services.tasks.read((state) =>
        analyze(state, now, args.task_id ? resolveId(state, args.task_id) : undefined),
      );
      const text = [
        `${a.open} open of ${a.total} tasks: ${a.ready_to_start} can start, ${a.blocked} blocked, ${a.overdue} overdue; ${a.completed_last_7_days} completed in the last 7 days (${a.completed_per_day_14d}/day over 14 days).`,
        a.complexity.scored
          ? `Complexity (1-10) of ${a.complexity.scored} scored open task(s): mean ${a.complexity.mean}; hardest: ${a.complexity.hardest.map((h) => `${h.task} "${h.title}" ${h.complexity}`).join('; ')}.`
          : '',
        a.bottlenecks.length
          ? `Bottlenecks: ${a.bottlenecks.map((b) => `${b.task} "${b.title}" (${b.waiting} waiting)`).join('; ')}.`
          : '',
        a.risks.length ? `Risks: ${a.risks.join('; ')}.` : 'No risks flagged.',
        DETERMINISTIC_NOTE,
      ]
        .filter(Boolean)
        .join('\n');
      return ok({ mode: 'deterministic' as const, mode_reason: DETERMINISTIC_NOTE, ...a }, text);
    },
  });
}
