/**
 * Calendars (.ics, parsed and written with ical.js): events and to-dos become tasks with deadlines,
 * and tasks_schedule finds a free slot in working hours and writes it back as an event.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import ICAL from 'ical.js';
import type { NewTask } from '../batch.js';
import type { Priority } from '../model.js';
import type { SourceReadResult, TaskSource } from './source.js';

const MAX_CALENDAR_BYTES = 20 * 1024 * 1024;
/** Recurring events are expanded at most this many times per search window. */
const MAX_OCCURRENCES = 5000;

export interface Interval {
  start: Date;
  end: Date;
}

function rootComponent(text: string): ICAL.Component {
  const jcal = ICAL.parse(text) as unknown;
  // A file may hold several VCALENDARs; ical.js returns an array then.
  const first = Array.isArray(jcal) && Array.isArray(jcal[0]) ? jcal[0] : jcal;
  return new ICAL.Component(first as never);
}

function isoDate(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/** VTODOs (with their due date) and future VEVENTs (due at their start) as candidate tasks. */
/**
 * RFC 5545 PRIORITY: 0 undefined, 1-4 high (1 the most urgent), 5 medium, 6-9 low.
 * Returns undefined when absent or 0.
 */
function icsPriority(value: unknown): Priority | undefined {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(n) || n <= 0 || n > 9) return undefined;
  if (n === 1) return 'critical';
  if (n <= 4) return 'high';
  if (n === 5) return 'medium';
  return 'low';
}

function calendarTasks(text: string, now: Date): SourceReadResult {
  const out: SourceReadResult = { tasks: [], skipped: [], errors: [] };
  const root = rootComponent(text);
  for (const todo of root.getAllSubcomponents('vtodo')) {
    const uid = String(todo.getFirstPropertyValue('uid') ?? '');
    const summary = String(todo.getFirstPropertyValue('summary') ?? '').trim();
    const status = String(todo.getFirstPropertyValue('status') ?? '').toUpperCase();
    if (status === 'COMPLETED' || status === 'CANCELLED') {
      out.skipped.push({ item: summary || uid, reason: `to-do is ${status.toLowerCase()}` });
      continue;
    }
    const due = todo.getFirstPropertyValue('due') as ICAL.Time | null;
    const description = String(todo.getFirstPropertyValue('description') ?? '');
    const priority = icsPriority(todo.getFirstPropertyValue('priority'));
    out.tasks.push({
      title: (summary || '(untitled to-do)').slice(0, 200),
      ...(priority ? { priority } : {}),
      ...(description ? { description: description.slice(0, 4000) } : {}),
      ...(due ? { due: isoDate(due.toJSDate()) } : {}),
      tags: ['calendar'],
      source: 'calendar',
      external_id: `ics:${uid || summary}`,
    });
  }
  for (const vevent of root.getAllSubcomponents('vevent')) {
    const event = new ICAL.Event(vevent);
    const summary = (event.summary ?? '').trim();
    let start: Date | undefined = event.startDate?.toJSDate();
    if (event.isRecurring()) {
      // The next occurrence is the deadline to prepare for.
      const it = event.iterator();
      let next: ICAL.Time | null;
      let guard = 0;
      start = undefined;
      while ((next = it.next()) && guard++ < MAX_OCCURRENCES) {
        const d = next.toJSDate();
        if (d >= now) {
          start = d;
          break;
        }
      }
    }
    if (!start || start < now) {
      out.skipped.push({ item: summary || event.uid, reason: 'event is in the past' });
      continue;
    }
    const eventPriority = icsPriority(vevent.getFirstPropertyValue('priority'));
    out.tasks.push({
      title: `Prepare: ${summary || '(untitled event)'}`.slice(0, 200),
      ...(eventPriority ? { priority: eventPriority } : {}),
      description: [
        `Event at ${start.toISOString()}`,
        event.location ? `Location: ${event.location}` : '',
        event.description ?? '',
      ]
        .filter(Boolean)
        .join('\n')
        .slice(0, 4000),
      due: isoDate(start),
      tags: ['calendar'],
      source: 'calendar',
      external_id: `ics:${event.uid || summary}:${start.toISOString()}`,
    });
  }
  return out;
}

/** Busy intervals in [from, to): every opaque event (but `exceptUid`), recurrences expanded. */
export function busyIntervals(text: string, from: Date, to: Date, exceptUid?: string): Interval[] {
  const root = rootComponent(text);
  const busy: Interval[] = [];
  for (const vevent of root.getAllSubcomponents('vevent')) {
    if (exceptUid !== undefined && String(vevent.getFirstPropertyValue('uid') ?? '') === exceptUid) continue;
    if (String(vevent.getFirstPropertyValue('transp') ?? '').toUpperCase() === 'TRANSPARENT') continue;
    if (String(vevent.getFirstPropertyValue('status') ?? '').toUpperCase() === 'CANCELLED') continue;
    const event = new ICAL.Event(vevent);
    const add = (s: Date, e: Date) => {
      if (e > from && s < to) busy.push({ start: s, end: e > s ? e : new Date(s.getTime() + 60_000) });
    };
    if (!event.isRecurring()) {
      add(event.startDate.toJSDate(), event.endDate.toJSDate());
      continue;
    }
    const it = event.iterator();
    let next: ICAL.Time | null;
    let guard = 0;
    while ((next = it.next()) && guard++ < MAX_OCCURRENCES) {
      const details = event.getOccurrenceDetails(next) as { startDate: ICAL.Time; endDate: ICAL.Time };
      const s = details.startDate.toJSDate();
      if (s >= to) break;
      add(s, details.endDate.toJSDate());
    }
  }
  return busy.sort((a, b) => a.start.getTime() - b.start.getTime());
}

/** Offset of `timeZone` from UTC at `instant`, in ms (positive east of Greenwich). */
function zoneOffset(instant: Date, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(instant);
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value);
  const asUtc = Date.UTC(
    get('year'),
    get('month') - 1,
    get('day'),
    get('hour'),
    get('minute'),
    get('second'),
  );
  return asUtc - Math.floor(instant.getTime() / 1000) * 1000;
}

/** The instant when the wall clock in `timeZone` shows the given date and time. */
export function zonedTime(year: number, month: number, day: number, minutes: number, timeZone: string): Date {
  const wall = Date.UTC(year, month - 1, day, 0, minutes);
  let guess = wall - zoneOffset(new Date(wall), timeZone);
  guess = wall - zoneOffset(new Date(guess), timeZone); // settle across a DST change
  return new Date(guess);
}

function wallDate(
  instant: Date,
  timeZone: string,
): { year: number; month: number; day: number; weekday: number } {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    weekday: 'short',
  }).formatToParts(instant);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '';
  const weekday = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(get('weekday'));
  return { year: Number(get('year')), month: Number(get('month')), day: Number(get('day')), weekday };
}

export interface SlotRequest {
  busy: Interval[];
  from: Date;
  to: Date;
  durationMinutes: number;
  /** Minutes after midnight, local to `timeZone`. */
  dayStart: number;
  dayEnd: number;
  /** 0 = Sunday ... 6 = Saturday. */
  weekdays: readonly number[];
  timeZone: string;
  /** Slots start on multiples of this many minutes. Default 15. */
  granularity?: number;
}

/** The first free slot of the requested length inside working hours, or undefined. */
export function findFreeSlot(r: SlotRequest): Interval | undefined {
  const step = (r.granularity ?? 15) * 60_000;
  const length = r.durationMinutes * 60_000;
  let cursor = new Date(r.from);
  for (let days = 0; days < 370 && cursor < r.to; days++) {
    const { year, month, day, weekday } = wallDate(cursor, r.timeZone);
    const dayOpen = zonedTime(year, month, day, r.dayStart, r.timeZone);
    const dayClose = zonedTime(year, month, day, r.dayEnd, r.timeZone);
    const nextDay = zonedTime(year, month, day + 1, 0, r.timeZone);
    if (r.weekdays.includes(weekday)) {
      let t = Math.max(dayOpen.getTime(), cursor.getTime());
      t = Math.ceil(t / step) * step;
      const close = Math.min(dayClose.getTime(), r.to.getTime());
      for (const b of r.busy) {
        if (b.end.getTime() <= t) continue;
        if (b.start.getTime() >= t + length) break;
        t = Math.ceil(b.end.getTime() / step) * step; // overlaps: jump past it
      }
      if (t + length <= close) return { start: new Date(t), end: new Date(t + length) };
    }
    cursor = nextDay;
  }
  return undefined;
}

export interface NewEvent {
  uid: string;
  summary: string;
  description: string;
  start: Date;
  end: Date;
}

/** Adds (or replaces, by UID) an event in a calendar text; creates a calendar when `existing` is undefined. */
export function withEvent(existing: string | undefined, e: NewEvent, now: Date): string {
  const root = existing ? rootComponent(existing) : new ICAL.Component(['vcalendar', [], []]);
  if (!existing) {
    root.addPropertyWithValue('version', '2.0');
    root.addPropertyWithValue('prodid', '-//task-orchestrator//tasks_schedule//EN');
  }
  for (const old of root.getAllSubcomponents('vevent')) {
    if (old.getFirstPropertyValue('uid') === e.uid) root.removeSubcomponent(old);
  }
  const vevent = new ICAL.Component('vevent');
  vevent.addPropertyWithValue('uid', e.uid);
  vevent.addPropertyWithValue('dtstamp', ICAL.Time.fromJSDate(now, true));
  vevent.addPropertyWithValue('dtstart', ICAL.Time.fromJSDate(e.start, true));
  vevent.addPropertyWithValue('dtend', ICAL.Time.fromJSDate(e.end, true));
  vevent.addPropertyWithValue('summary', e.summary);
  vevent.addPropertyWithValue('description', e.description);
  root.addSubcomponent(vevent);
  return root.toString() + '\r\n';
}

export const calendarSource: TaskSource = {
  name: 'calendar',
  handles: (file) => /\.ics$/i.test(file),
  async read(file, now) {
    const { size } = await fs.stat(file);
    if (size > MAX_CALENDAR_BYTES) {
      return {
        tasks: [] as NewTask[],
        skipped: [],
        errors: [{ file, error: `file is ${size} bytes; the limit is ${MAX_CALENDAR_BYTES}` }],
      };
    }
    try {
      return calendarTasks(await fs.readFile(file, 'utf8'), now);
    } catch (error) {
      return {
        tasks: [],
        skipped: [],
        errors: [
          { file: path.basename(file), error: `not a readable calendar: ${(error as Error).message}` },
        ],
      };
    }
  },
};
