import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { AppError } from '../../../core/errors.js';
import { resolveInside, writeFileInside } from '../../../safety/paths.js';
import { busyIntervals, findFreeSlot, withEvent, zonedTime } from '../../../tasks/sources/calendar.js';
import type { Services } from '../../services.js';
import { actorField, taskRef, taskSummarySchema } from '../../schemas/tasks.js';
import { defineTool, ok } from '../../tool.js';

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM, e.g. 09:00');
const toMinutes = (v: string) => Number(v.slice(0, 2)) * 60 + Number(v.slice(3, 5));

const input = z
  .object({
    task_id: taskRef.describe('Task id or unique prefix'),
    calendar: z
      .string()
      .max(500)
      .optional()
      .describe('.ics file (inside the project) whose events are busy time'),
    duration_minutes: z
      .number()
      .int()
      .min(5)
      .max(24 * 60)
      .optional()
      .describe("Default: the task's estimate, else 60"),
    day_start: hhmm.default('09:00').describe('Working day start, HH:MM'),
    day_end: hhmm.default('17:00').describe('Working day end, HH:MM'),
    weekdays: z
      .array(z.number().int().min(0).max(6))
      .min(1)
      .max(7)
      .default([1, 2, 3, 4, 5])
      .describe('0 = Sunday ... 6 = Saturday; default Mon-Fri'),
    time_zone: z
      .string()
      .max(60)
      .optional()
      .describe("IANA zone for working hours, e.g. Europe/Berlin; default the server's"),
    not_before: z
      .string()
      .datetime({ offset: true })
      .optional()
      .describe('Earliest start (ISO date-time); default now'),
    output: z
      .string()
      .max(500)
      .optional()
      .describe('.ics file to write the event to; default <state>/calendar/schedule.ics'),
    actor: actorField,
  })
  .strict();

const output = z.object({
  task: taskSummarySchema,
  start: z.string(),
  end: z.string(),
  calendar_file: z.string(),
  busy_considered: z.number(),
});

export function tasksSchedule(services: Pick<Services, 'clock' | 'config' | 'tasks'>) {
  return defineTool({
    name: 'tasks_schedule',
    title: 'Schedule a task in a free slot',
    description:
      'Find the first free slot for a task within working hours and before its due date, against the busy events of an .ics calendar, and write it as an event to an .ics file. The slot is noted on the task.',
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    async handler(args, ctx) {
      const { config } = services;
      const roots = [config.projectDir, config.stateDir];
      const timeZone = args.time_zone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
      try {
        new Intl.DateTimeFormat('en-US', { timeZone });
      } catch {
        throw new AppError('INVALID_INPUT', `Unknown time zone "${timeZone}"`, {
          hint: 'Use an IANA name such as Europe/Berlin or America/New_York',
        });
      }
      const dayStart = toMinutes(args.day_start);
      const dayEnd = toMinutes(args.day_end);
      if (dayEnd <= dayStart) throw new AppError('INVALID_INPUT', 'day_end must be after day_start');
      const { task } = await services.tasks.get(args.task_id);
      const duration =
        args.duration_minutes ?? (task.estimate_hours ? Math.round(task.estimate_hours * 60) : 60);
      if (duration > dayEnd - dayStart) {
        throw new AppError(
          'INVALID_INPUT',
          `${duration} minutes do not fit in a working day of ${dayEnd - dayStart} minutes`,
          {
            hint: 'Split the task, or give duration_minutes / longer working hours',
          },
        );
      }
      const now = new Date(services.clock.now());
      const from = args.not_before ? new Date(Math.max(Date.parse(args.not_before), now.getTime())) : now;
      let to: Date;
      if (task.due) {
        const [y, m, d] = task.due.slice(0, 10).split('-').map(Number) as [number, number, number];
        to = task.due.length > 10 ? new Date(task.due) : zonedTime(y, m, d + 1, 0, timeZone);
      } else {
        to = new Date(from.getTime() + 14 * 24 * 3600_000);
      }
      let busy: ReturnType<typeof busyIntervals> = [];
      if (args.calendar) {
        const file = await resolveInside(roots, args.calendar);
        try {
          busy = busyIntervals(await fs.readFile(file, 'utf8'), from, to);
        } catch (error) {
          throw new AppError(
            'INVALID_INPUT',
            `${args.calendar} is not a readable calendar: ${(error as Error).message}`,
          );
        }
      }
      let outFile: string;
      if (args.output) {
        // Resolved where it really points (a link, even a dangling one, is followed) before the check.
        outFile = await resolveInside(roots, args.output, { mustExist: false, what: 'output' });
      } else {
        await fs.mkdir(path.join(config.stateDir, 'calendar'), { recursive: true });
        outFile = path.join(config.stateDir, 'calendar', 'schedule.ics');
      }
      if (!outFile.endsWith('.ics'))
        throw new AppError('INVALID_INPUT', 'output must be an .ics file (where it really points)', {
          hint: 'Name a .ics file inside the project',
        });
      // What this file already holds is busy too (two tasks must not get the same slot); the task's
      // own earlier event is replaced, so it does not count.
      const existing = await fs.readFile(outFile, 'utf8').catch(() => undefined);
      if (existing) {
        try {
          busy = [...busy, ...busyIntervals(existing, from, to, `${task.id}@task-orchestrator`)];
        } catch (error) {
          throw new AppError(
            'INVALID_INPUT',
            `${outFile} is not a readable calendar: ${(error as Error).message}`,
          );
        }
      }
      const slot = findFreeSlot({
        busy,
        from,
        to,
        durationMinutes: duration,
        dayStart,
        dayEnd,
        weekdays: args.weekdays,
        timeZone,
      });
      if (!slot) {
        throw new AppError(
          'CONFLICT',
          `No free ${duration}-minute slot between ${from.toISOString()} and ${to.toISOString()} within ${args.day_start}-${args.day_end} (${timeZone})`,
          {
            hint: 'Try a shorter duration, other working hours or days, or move the due date with tasks_update',
          },
        );
      }
      const text = withEvent(
        existing,
        {
          uid: `${task.id}@task-orchestrator`,
          summary: task.title,
          description: `Task ${task.id}`,
          start: slot.start,
          end: slot.end,
        },
        now,
      );
      await writeFileInside(roots, outFile, text, { what: 'output' });
      const summary = await services.tasks.update(
        task.id,
        {},
        `Scheduled ${slot.start.toISOString()} – ${slot.end.toISOString()} in ${path.relative(config.projectDir, outFile) || outFile}`,
        ctx.actorFor(args.actor),
      );
      return ok(
        {
          task: summary,
          start: slot.start.toISOString(),
          end: slot.end.toISOString(),
          calendar_file: outFile,
          busy_considered: busy.length,
        },
        `Scheduled ${task.id} "${task.title}" ${slot.start.toISOString()} – ${slot.end.toISOString()} (${timeZone}); event written to ${outFile}.`,
      );
    },
  });
}
