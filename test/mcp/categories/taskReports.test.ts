import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sc, startHarness, textOf } from '../../helpers/harness.js';
import type { Harness } from '../../helpers/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const DAY = 24 * 3600_000;

/** A clock the test moves by hand. */
function manualClock(start: string) {
  let t = Date.parse(start);
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

async function add(tasks: Array<Record<string, unknown>>): Promise<Record<string, string>> {
  const r = sc<{ added: Array<{ ref?: string; task: { id: string } }> }>(
    await h!.call('tasks_add', { tasks }),
  );
  return Object.fromEntries(r.added.map((a, i) => [a.ref ?? String(i), a.task.id]));
}

describe('tasks_maintain', () => {
  it('finds overdue and stale work, and structural problems, each with a fix', async () => {
    const clock = manualClock('2026-03-01T09:00:00Z');
    h = await startHarness({ env: { TASK_ORCHESTRATOR_TOOLS: 'task' }, clock });
    const t = await add([
      { ref: 'late', title: 'Late report', due: '2026-03-05' },
      { ref: 'old', title: 'Forgotten idea' },
      { ref: 'fresh', title: 'Fresh work' },
      { ref: 'dropped', title: 'Dropped prerequisite' },
      { ref: 'waits', title: 'Waits forever', depends_on: [{ task: 'dropped' }] },
      { ref: 'parent', title: 'Parent' },
      { ref: 'kid', title: 'Open kid', parent: 'parent' },
    ]);
    sc(await h.call('tasks_transition', { task_id: t.dropped!, to: 'cancelled' }));
    sc(await h.call('tasks_transition', { task_id: t.parent!, to: 'cancelled' }));
    clock.advance(10 * DAY);
    sc(await h.call('tasks_update', { task_id: t.fresh!, note: 'still on it' }));
    const stale = sc<{ findings: Array<{ task: string; kind: string; fix: string }> }>(
      await h.call('tasks_maintain', { action: 'stale', stale_days: 7 }),
    );
    const kinds = stale.findings.map((f) => `${f.task}:${f.kind}`);
    expect(kinds).toContain(`${t.late!}:overdue`);
    expect(kinds).toContain(`${t.old!}:stale`);
    expect(kinds.some((k) => k.startsWith(t.fresh!))).toBe(false);

    const structure = sc<{ findings: Array<{ task: string; kind: string; fix: string }> }>(
      await h.call('tasks_maintain', { action: 'validate' }),
    );
    expect(structure.findings.map((f) => [f.task, f.kind])).toEqual([
      [t.waits!, 'unsatisfiable_dependency'],
      [t.parent!, 'closed_parent_with_open_subtasks'],
    ]);
    expect(structure.findings[0]?.fix).toMatch(/waive/);
  });

  it('writes a handover document under the state folder', async () => {
    const clock = manualClock('2026-03-01T09:00:00Z');
    h = await startHarness({ env: { TASK_ORCHESTRATOR_TOOLS: 'task' }, clock });
    const t = await add([
      { ref: 'a', title: 'Migrate database', priority: 'high' },
      { ref: 'b', title: 'Blocked thing', depends_on: [{ task: 'a' }] },
    ]);
    sc(await h.call('tasks_start', { task_id: t.a! }));
    sc(await h.call('tasks_update', { task_id: t.a!, note: 'schema copied, data next' }));
    const r = sc<{ document: string; path: string }>(await h.call('tasks_maintain', { action: 'handover' }));
    expect(r.path).toBe(path.join('reports', 'handover-2026-03-01.md'));
    expect(await fs.readFile(path.join(h.stateDir, r.path), 'utf8')).toBe(r.document);
    expect(r.document).toContain('## In progress');
    expect(r.document).toContain('last note: schema copied, data next');
    expect(r.document).toContain(`waits on ${t.a!}`);
  });
});

describe('tasks_analyze and tasks_briefing', () => {
  it('report counts, bottlenecks, risks and the day, saying they are deterministic', async () => {
    const clock = manualClock('2026-03-02T09:00:00Z');
    h = await startHarness({ env: { TASK_ORCHESTRATOR_TOOLS: 'task' }, clock });
    const t = await add([
      { ref: 'root', title: 'Design API', priority: 'high' },
      { ref: 'b', title: 'Build API', depends_on: [{ task: 'root' }] },
      { ref: 'c', title: 'Ship API', depends_on: [{ task: 'b' }], due: '2026-03-02' },
      { ref: 'd', title: 'Overdue chore', due: '2026-02-20', estimate_hours: 2 },
      { ref: 'e', title: 'Done already' },
    ]);
    sc(await h.call('tasks_complete', { task_id: t.e!, summary: 'finished quickly' }));
    const a = sc<{
      mode: string;
      open: number;
      ready_to_start: number;
      blocked: number;
      overdue: number;
      completed_last_7_days: number;
      bottlenecks: Array<{ task: string; waiting: number }>;
      risks: string[];
      open_estimate_hours: number;
    }>(await h.call('tasks_analyze', {}));
    expect(a).toMatchObject({
      mode: 'deterministic',
      open: 4,
      ready_to_start: 2,
      blocked: 2,
      overdue: 1,
      completed_last_7_days: 1,
      open_estimate_hours: 2,
    });
    expect(a.bottlenecks[0]).toEqual({ task: t.root!, title: 'Design API', waiting: 2 });
    expect(a.risks).toContain('1 open task(s) are overdue');
    const sub = sc<{ total: number }>(await h.call('tasks_analyze', { task_id: t.root! }));
    expect(sub.total).toBe(1);

    const b = sc<{
      due_today: string[];
      overdue: string[];
      blocked: string[];
      next_up: string[];
      recently_completed: string[];
      text: string;
    }>(await h.call('tasks_briefing', {}));
    expect(b.due_today).toEqual([t.c!]);
    expect(b.overdue).toEqual([t.d!]);
    expect(b.blocked.sort()).toEqual([t.b!, t.c!].sort());
    expect(b.next_up[0]).toBe(t.root!);
    expect(b.recently_completed).toEqual([t.e!]);
    expect(b.text).toContain('# Briefing for 2026-03-02');
    expect(textOf(await h.call('tasks_briefing', {}))).toMatch(/Deterministic report/);
  });
});

describe('tasks_plan', () => {
  it('chooses a template from the goal, previews, and creates on request', async () => {
    h = await startHarness({ env: { TASK_ORCHESTRATOR_TOOLS: 'task' } });
    const preview = sc<{
      template: string;
      steps: Array<{ title: string; depends_on: string[] }>;
      mode: string;
      created?: unknown;
    }>(await h.call('tasks_plan', { goal: 'Login crashes on Safari' }));
    expect(preview).toMatchObject({ template: 'bugfix', mode: 'template' });
    expect(preview.created).toBeUndefined();
    expect(preview.steps[1]).toEqual({
      title: 'Find the root cause of Login crashes on Safari',
      specialist: 'debugger',
      depends_on: ['Reproduce: Login crashes on Safari'],
    });
    expect(sc<{ total: number }>(await h.call('tasks_list', {})).total).toBe(0);
    expect(
      sc<{ template: string }>(await h.call('tasks_plan', { goal: 'Should we move to Postgres?' })).template,
    ).toBe('research');
    expect(
      sc<{ template: string }>(await h.call('tasks_plan', { goal: 'Publish version 2.0' })).template,
    ).toBe('release');
    expect(
      sc<{ template: string }>(await h.call('tasks_plan', { goal: 'Dark mode for the dashboard' })).template,
    ).toBe('feature');
    const made = sc<{ created: Array<{ title: string }> }>(
      await h.call('tasks_plan', { goal: 'Dark mode for the dashboard', create: true }),
    );
    expect(made.created.map((c) => c.title)[0]).toBe('Feature: Dark mode for the dashboard');
    expect(sc<{ total: number }>(await h.call('tasks_list', {})).total).toBe(6);
  });
});
