import { promises as fs } from 'node:fs';
import path from 'node:path';
import ICAL from 'ical.js';
import { afterEach, describe, expect, it } from 'vitest';
import { sc, startHarness, textOf } from '../../helpers/harness.js';
import type { Harness } from '../../helpers/harness.js';

const mailDir = path.relative(process.cwd(), path.resolve(import.meta.dirname, '../../fixtures/mail'));
const busyIcs = path.relative(
  process.cwd(),
  path.resolve(import.meta.dirname, '../../fixtures/calendar/busy.ics'),
);

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

interface Summary {
  id: string;
  title: string;
  priority: string;
  due?: string;
  tags: string[];
}

describe('tasks_sync_email', () => {
  it('imports actionable mail and calendar items once, with priorities and deadlines', async () => {
    h = await startHarness({ env: { TASK_ORCHESTRATOR_TOOLS: 'task' } });
    const dry = sc<{ would_import: Array<{ title: string }>; duplicates: number }>(
      await h.call('tasks_sync_email', { path: mailDir, dry_run: true }),
    );
    // The mbox repeats one message: the dry run counts it as a duplicate, as the import will.
    expect(dry).toMatchObject({ duplicates: 1 });
    expect(dry.would_import.length).toBe(4);
    expect(sc<{ total: number }>(await h.call('tasks_list', { include_closed: true })).total).toBe(0);

    const first = sc<{
      files: number;
      imported: Summary[];
      duplicates: number;
      skipped: Array<{ item: string; reason: string }>;
      errors: unknown[];
    }>(await h.call('tasks_sync_email', { path: mailDir }));
    expect(first.files).toBe(5);
    expect(first.errors).toEqual([]);
    const byTitle = Object.fromEntries(first.imported.map((t) => [t.title, t]));
    expect(Object.keys(byTitle).sort()).toEqual([
      'Deploy checklist',
      'File taxes',
      'Prepare: Customer demo',
      'Q3 budget',
    ]);
    expect(byTitle['Q3 budget']).toMatchObject({ priority: 'high', due: '2026-03-06', tags: ['email'] }); // "by Friday" after Mon 2 March
    expect(byTitle['Deploy checklist']).toMatchObject({ priority: 'medium', due: '2026-03-10' });
    // ICS PRIORITY:1 is the most urgent.
    expect(byTitle['File taxes']).toMatchObject({
      due: '2030-04-15',
      tags: ['calendar'],
      priority: 'critical',
    });
    expect(byTitle['Prepare: Customer demo']?.due).toBe('2030-06-01');
    expect(first.duplicates).toBe(1);
    const reasons = first.skipped.map((s) => s.reason).sort();
    expect(reasons).toEqual([
      'automated sender',
      'automatic reply',
      'event is in the past',
      'mailing list or newsletter',
      'no request found',
      'to-do is completed',
    ]);
    const deploy = sc<{ task: { description: string; source: string; external_id: string } }>(
      await h.call('tasks_get', { task_id: byTitle['Deploy checklist']!.id }),
    );
    expect(deploy.task.description).toContain('\nFrom the release notes'); // mboxrd ">From" unquoted
    expect(deploy.task.source).toBe('email');
    expect(deploy.task.external_id).toBe('email:<deploy-2@example.com>');

    const again = sc<{ imported: unknown[]; duplicates: number }>(
      await h.call('tasks_sync_email', { path: mailDir }),
    );
    expect(again.imported).toEqual([]);
    expect(again.duplicates).toBe(5);
    const dryAgain = sc<{ would_import: unknown[]; duplicates: number }>(
      await h.call('tasks_sync_email', { path: mailDir, dry_run: true }),
    );
    expect(dryAgain).toMatchObject({ would_import: [], duplicates: 5 });
    expect(sc<{ total: number }>(await h.call('tasks_list', {})).total).toBe(4);
  });

  it('refuses paths outside the project and reports unreadable files without failing the rest', async () => {
    h = await startHarness({ env: { TASK_ORCHESTRATOR_TOOLS: 'task' } });
    for (const p of ['/etc/passwd', '../../..']) {
      const r = await h.call('tasks_sync_email', { path: p });
      expect(r.isError).toBe(true);
      expect(textOf(r)).toMatch(/outside the project/);
    }
    const missing = await h.call('tasks_sync_email', { path: 'no/such/inbox.mbox' });
    expect(textOf(missing)).toMatch(/No file at/);
    const dir = path.join(h.stateDir, 'mailin');
    await fs.mkdir(dir);
    await fs.writeFile(path.join(dir, 'broken.ics'), 'BEGIN:VCALENDAR\nthis is not ical');
    await fs.copyFile(path.join(mailDir, 'budget.eml'), path.join(dir, 'budget.eml'));
    const r = sc<{ imported: Summary[]; errors: Array<{ file: string; error: string }> }>(
      await h.call('tasks_sync_email', { path: dir }),
    );
    expect(r.imported.map((t) => t.title)).toEqual(['Q3 budget']);
    expect(r.errors[0]?.file).toBe('broken.ics');
    expect(r.errors[0]?.error).toMatch(/not a readable calendar/);
  });
});

describe('tasks_schedule', () => {
  async function task(fields: Record<string, unknown>): Promise<string> {
    const r = sc<{ added: Array<{ task: { id: string } }> }>(
      await h!.call('tasks_add', { tasks: [{ title: 'Write report', ...fields }] }),
    );
    return r.added[0]!.task.id;
  }

  it('finds the first free slot around busy and recurring events and writes an .ics event', async () => {
    h = await startHarness({ env: { TASK_ORCHESTRATOR_TOOLS: 'task' } });
    const id = await task({ due: '2030-01-08' });
    const base = { task_id: id, calendar: busyIcs, time_zone: 'UTC', not_before: '2030-01-07T08:00:00Z' };
    const hour = sc<{ start: string; end: string; calendar_file: string; busy_considered: number }>(
      await h.call('tasks_schedule', { ...base, duration_minutes: 60 }),
    );
    // Standup 9:00-9:30 (daily), workshop 9:30-12:00, lunch marked free: 12:00 is the first hour.
    expect(hour).toMatchObject({ start: '2030-01-07T12:00:00.000Z', end: '2030-01-07T13:00:00.000Z' });
    expect(hour.busy_considered).toBe(3);
    const long = sc<{ start: string }>(await h.call('tasks_schedule', { ...base, duration_minutes: 330 }));
    expect(long.start).toBe('2030-01-08T09:30:00.000Z'); // does not fit Monday afternoon
    const none = await h.call('tasks_schedule', { ...base, duration_minutes: 460 });
    expect(none.isError).toBe(true);
    expect(textOf(none)).toMatch(/No free 460-minute slot .*Try a shorter duration/);

    const ics = await fs.readFile(hour.calendar_file, 'utf8');
    const events = new ICAL.Component(ICAL.parse(ics) as never).getAllSubcomponents('vevent');
    expect(events).toHaveLength(1); // rescheduling replaced the event with the same UID
    expect(events[0]?.getFirstPropertyValue('uid')).toBe(`${id}@task-orchestrator`);
    expect(String(events[0]?.getFirstPropertyValue('dtstart'))).toBe('2030-01-08T09:30:00Z');
    const history = sc<{ entries: Array<{ summary: string }> }>(
      await h.call('tasks_history', { task_id: id }),
    );
    expect(history.entries[0]?.summary).toBe('added a note');
  });

  it('gives two tasks scheduled into the same file different slots', async () => {
    h = await startHarness({ env: { TASK_ORCHESTRATOR_TOOLS: 'task' } });
    const base = { time_zone: 'UTC', not_before: '2030-01-07T08:00:00Z', duration_minutes: 60 };
    const a = sc<{ start: string; calendar_file: string }>(
      await h.call('tasks_schedule', { task_id: await task({ due: '2030-01-10' }), ...base }),
    );
    const b = sc<{ start: string; calendar_file: string }>(
      await h.call('tasks_schedule', {
        task_id: await task({ title: 'Review report', due: '2030-01-10' }),
        ...base,
      }),
    );
    expect(b.calendar_file).toBe(a.calendar_file);
    expect(a.start).toBe('2030-01-07T09:00:00.000Z');
    expect(b.start).toBe('2030-01-07T10:00:00.000Z');
  });

  it('reads working hours in the given time zone and validates its input', async () => {
    h = await startHarness({ env: { TASK_ORCHESTRATOR_TOOLS: 'task' } });
    const id = await task({ due: '2030-01-09', estimate_hours: 1 });
    const berlin = sc<{ start: string }>(
      await h.call('tasks_schedule', {
        task_id: id,
        calendar: busyIcs,
        time_zone: 'Europe/Berlin',
        not_before: '2030-01-07T06:00:00Z',
      }),
    );
    expect(berlin.start).toBe('2030-01-07T08:00:00.000Z'); // 09:00 in Berlin (UTC+1), before the 10:00 standup
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ time_zone: 'Mars/Olympus' }, /Unknown time zone/],
      [{ day_start: '18:00', day_end: '09:00' }, /day_end must be after day_start/],
      [{ day_start: '9am' }, /HH:MM/],
      [{ output: '/tmp/elsewhere.ics' }, /outside the project/],
      [{ duration_minutes: 600 }, /do not fit in a working day/],
    ];
    for (const [extra, pattern] of cases) {
      const r = await h.call('tasks_schedule', { task_id: id, ...extra });
      expect(r.isError, JSON.stringify(extra)).toBe(true);
      expect(textOf(r)).toMatch(pattern);
    }
  });
});
