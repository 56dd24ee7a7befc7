import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sc, startHarness, textOf } from '../../helpers/harness.js';
import type { Harness } from '../../helpers/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

interface Summary {
  id: string;
  title: string;
  status: string;
  priority: string;
  ready_to_start: boolean;
  blocked_by?: string[];
  children?: { total: number; completed: number };
  parent?: string;
}

const projects: string[] = [];
afterEach(async () => {
  for (const dir of projects.splice(0)) await fs.rm(dir, { recursive: true, force: true });
});

/** A throwaway project whose package.json has these scripts (removed after the test). */
async function gateProject(scripts: Record<string, string>): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'to-gates-'));
  projects.push(dir);
  await fs.writeFile(path.join(dir, 'package.json'), JSON.stringify({ scripts }));
  return dir;
}

async function start(env: Record<string, string> = {}, cwd?: string) {
  h = await startHarness({
    env: { TASK_ORCHESTRATOR_TOOLS: 'task', TASK_ORCHESTRATOR_EXECUTE: 'on', ...env },
    ...(cwd ? { cwd } : {}),
  });
  return h;
}

async function add(tasks: Array<Record<string, unknown>>, actor?: string): Promise<Record<string, Summary>> {
  const r = await h!.call('tasks_add', { tasks, ...(actor ? { actor } : {}) });
  const added = sc<{ added: Array<{ ref?: string; task: Summary }> }>(r).added;
  return Object.fromEntries(added.map((a, i) => [a.ref ?? String(i), a.task]));
}

async function count(): Promise<number> {
  return sc<{ total: number }>(await h!.call('tasks_list', { include_closed: true, limit: 1 })).total;
}

describe('tasks_add and tasks_list', () => {
  it('adds a batch with subtasks and dependencies by ref, atomically', async () => {
    await start();
    const t = await add([
      { ref: 'epic', title: 'Ship search', priority: 'high', tags: ['search'] },
      { ref: 'api', title: 'Search API', parent: 'epic', due: '2026-12-01' },
      { ref: 'ui', title: 'Search UI', parent: 'epic', depends_on: [{ task: 'api', kind: 'data' }] },
    ]);
    expect(t.epic?.children).toEqual({ total: 2, completed: 0 });
    expect(t.ui?.blocked_by).toEqual([t.api!.id]);
    expect(t.ui?.ready_to_start).toBe(false);
    expect(t.api?.ready_to_start).toBe(true);

    const before = await count();
    const bad = await h!.call('tasks_add', {
      tasks: [
        { ref: 'ok', title: 'Fine' },
        { title: 'Broken', depends_on: [{ task: 'nope' }] },
      ],
    });
    expect(bad.isError).toBe(true);
    expect(textOf(bad)).toMatch(/depends_on task "nope" is neither a ref of this batch nor an existing task/);
    expect(await count()).toBe(before);

    const children = sc<{ tasks: Summary[] }>(await h!.call('tasks_list', { parent: t.epic!.id })).tasks;
    expect(children.map((c) => c.title)).toEqual(['Search API', 'Search UI']);
    const roots = sc<{ tasks: Summary[] }>(await h!.call('tasks_list', { parent: 'root' })).tasks;
    expect(roots.map((c) => c.title)).toEqual(['Ship search']);
    const ready = sc<{ tasks: Summary[] }>(await h!.call('tasks_list', { ready: true })).tasks;
    expect(ready.map((c) => c.title).sort()).toEqual(['Search API', 'Ship search']);
  });

  it('refuses a cycle within a batch and through stored tasks, naming the path', async () => {
    await start();
    const inBatch = await h!.call('tasks_add', {
      tasks: [
        { ref: 'a', title: 'A', depends_on: [{ task: 'b' }] },
        { ref: 'b', title: 'B', depends_on: [{ task: 'a' }] },
      ],
    });
    expect(inBatch.isError).toBe(true);
    expect(textOf(inBatch)).toMatch(/cycle: (t_\w+) → t_\w+ → \1/);
    expect(await count()).toBe(0);

    const t = await add([
      { ref: 'a', title: 'A' },
      { ref: 'b', title: 'B', depends_on: [{ task: 'a' }] },
      { ref: 'c', title: 'C', depends_on: [{ task: 'b' }] },
    ]);
    const r = await h!.call('tasks_depend', { task_id: t.a!.id, action: 'add', on: t.c!.id });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toContain(`cycle: ${t.a!.id} → ${t.c!.id} → ${t.b!.id} → ${t.a!.id}`);
    const a = sc<{ task: { depends_on: unknown[] } }>(await h!.call('tasks_get', { task_id: t.a!.id }));
    expect(a.task.depends_on).toEqual([]);
  });

  it('sorts, filters, paginates and resolves id prefixes', async () => {
    await start();
    await add([
      { title: 'low one', priority: 'low' },
      { title: 'critical one', priority: 'critical', tags: ['x'] },
      { title: 'medium due soon', due: '2026-01-01' },
      { title: 'medium due later', due: '2026-06-01' },
      { title: 'high one', priority: 'high', tags: ['x'] },
    ]);
    const all = sc<{ tasks: Summary[]; total: number; next_cursor?: string }>(
      await h!.call('tasks_list', { limit: 2 }),
    );
    expect(all.total).toBe(5);
    expect(all.tasks.map((t) => t.title)).toEqual(['critical one', 'high one']);
    const page2 = sc<{ tasks: Summary[] }>(
      await h!.call('tasks_list', { limit: 2, cursor: all.next_cursor }),
    );
    expect(page2.tasks.map((t) => t.title)).toEqual(['medium due soon', 'medium due later']);
    const tagged = sc<{ tasks: Summary[] }>(await h!.call('tasks_list', { tag: 'x', sort: 'created' }));
    expect(tagged.tasks.map((t) => t.title)).toEqual(['critical one', 'high one']);
    const byDue = sc<{ tasks: Summary[] }>(await h!.call('tasks_list', { sort: 'due', limit: 1 }));
    expect(byDue.tasks[0]?.title).toBe('medium due soon');

    const id = all.tasks[0]!.id;
    const viaPrefix = sc<{ summary: Summary }>(await h!.call('tasks_get', { task_id: id.slice(2, 7) }));
    expect(viaPrefix.summary.id).toBe(id);
    const missing = await h!.call('tasks_get', { task_id: 't_zzzzzzzz' });
    expect(textOf(missing)).toMatch(/not found.*tasks_list or tasks_query/);
  });

  it('rejects oversized and malformed fields without storing anything', async () => {
    await start();
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ title: 'x'.repeat(201) }, /title/],
      [{ title: 'ok', due: 'next tuesday' }, /ISO date/],
      [{ title: 'ok', priority: 'urgent' }, /priority/],
      [{ title: 'ok', output_schema: { type: 'nonsense' } }, /output_schema is not a valid JSON Schema/],
      [
        { title: 'ok', command_gates: [{ command: 'rm', args: ['-r', 'src'] }] },
        /"rm" is not an allowed gate program/,
      ],
      [
        { title: 'ok', command_gates: [{ command: 'node', args: ['-e', '1'] }] },
        /"node" is not an allowed gate program.*Allowed: npm, pnpm, yarn, make, pytest, go, cargo/,
      ],
      [
        { title: 'ok', command_gates: [{ command: 'npm', args: ['exec', 'evil'] }] },
        /npm exec is not allowed as a gate.*Allowed: npm test, npm run/,
      ],
      [{ title: 'ok', command_gates: [{ command: '/bin/sh', args: [] }] }, /bare program name/],
    ];
    for (const [task, pattern] of cases) {
      const r = await h!.call('tasks_add', { tasks: [task] });
      expect(r.isError, JSON.stringify(task)).toBe(true);
      expect(textOf(r)).toMatch(pattern);
    }
    expect(await count()).toBe(0);
  });
});

describe('lifecycle and dependencies', () => {
  it('blocks start on unsatisfied dependencies until completed or waived, recording who and why', async () => {
    await start();
    const t = await add([
      { ref: 'dep', title: 'Write spec' },
      { ref: 'work', title: 'Build it', depends_on: [{ task: 'dep' }] },
    ]);
    const blocked = await h!.call('tasks_start', { task_id: t.work!.id });
    expect(blocked.isError).toBe(true);
    expect(textOf(blocked)).toContain(`${t.dep!.id} (completion: it is ready, not completed)`);
    expect(textOf(blocked)).toMatch(/waive/);

    const noReason = await h!.call('tasks_depend', { task_id: t.work!.id, action: 'waive', on: t.dep!.id });
    expect(textOf(noReason)).toMatch(/needs a reason/);
    sc(
      await h!.call('tasks_depend', {
        task_id: t.work!.id,
        action: 'waive',
        on: t.dep!.id,
        reason: 'spec agreed verbally',
        actor: 'alice',
      }),
    );
    const started = sc<{ task: Summary }>(await h!.call('tasks_start', { task_id: t.work!.id }));
    expect(started.task.status).toBe('active');

    const history = sc<{ entries: Array<{ actor: string; summary: string; type: string }> }>(
      await h!.call('tasks_history', { task_id: t.work!.id }),
    );
    expect(history.entries.map((e) => e.type)).toEqual(['transitioned', 'dependency_waived', 'added']);
    expect(history.entries[1]).toMatchObject({
      actor: 'alice',
      summary: `waived dependency on ${t.dep!.id}: spec agreed verbally`,
    });
    expect(history.entries[0]?.actor).toBe('test-client/1.0.0');
  });

  it('enforces the transition table and keeps completion behind tasks_complete', async () => {
    await start();
    const t = await add([{ ref: 'a', title: 'A', status: 'draft' }]);
    const bad = await h!.call('tasks_transition', { task_id: t.a!.id, to: 'review' });
    expect(textOf(bad)).toMatch(/cannot go from draft to review.*From draft it can go to: ready, cancelled/);
    const done = await h!.call('tasks_transition', { task_id: t.a!.id, to: 'completed' });
    expect(textOf(done)).toMatch(/only through tasks_complete/);
    sc(await h!.call('tasks_transition', { task_id: t.a!.id, to: 'ready' }));
    sc(await h!.call('tasks_transition', { task_id: t.a!.id, to: 'cancelled', reason: 'dropped' }));
    sc(await h!.call('tasks_transition', { task_id: t.a!.id, to: 'archived' }));
    const final = await h!.call('tasks_transition', { task_id: t.a!.id, to: 'ready' });
    expect(textOf(final)).toMatch(/nothing \(final\)/);
  });

  it('satisfies data dependencies only with a result and approval dependencies only with approved: true', async () => {
    await start();
    const t = await add([
      { ref: 'research', title: 'Research' },
      { ref: 'approve', title: 'Sign-off' },
      {
        ref: 'use',
        title: 'Use it',
        depends_on: [
          { task: 'research', kind: 'data' },
          { task: 'approve', kind: 'approval' },
        ],
      },
    ]);
    sc(await h!.call('tasks_complete', { task_id: t.research!.id, summary: 'nothing found' }));
    sc(await h!.call('tasks_complete', { task_id: t.approve!.id, approved: false }));
    const r = await h!.call('tasks_start', { task_id: t.use!.id });
    expect(textOf(r)).toMatch(/data: it completed without a result or artifact/);
    expect(textOf(r)).toMatch(/approval: it completed without approved: true/);
    // Reopen and complete properly.
    for (const id of [t.research!.id, t.approve!.id])
      sc(await h!.call('tasks_transition', { task_id: id, to: 'ready' }));
    sc(await h!.call('tasks_complete', { task_id: t.research!.id, result: { findings: 3 } }));
    sc(await h!.call('tasks_complete', { task_id: t.approve!.id, approved: true }));
    expect(sc<{ task: Summary }>(await h!.call('tasks_start', { task_id: t.use!.id })).task.status).toBe(
      'active',
    );
  });
});

describe('lifecycle as the transition table says', () => {
  it('refuses to complete a blocked task and to edit an archived one', async () => {
    await start();
    const t = await add([
      { ref: 'b', title: 'Blocked one' },
      { ref: 'a', title: 'Old one' },
    ]);
    sc(await h!.call('tasks_transition', { task_id: t.b!.id, to: 'blocked', reason: 'waiting on a vendor' }));
    const blocked = await h!.call('tasks_complete', { task_id: t.b!.id });
    expect(blocked.isError).toBe(true);
    expect(textOf(blocked)).toMatch(
      /status is blocked; only ready, active, review tasks can complete \(move it/,
    );
    sc(await h!.call('tasks_complete', { task_id: t.a!.id }));
    sc(await h!.call('tasks_transition', { task_id: t.a!.id, to: 'archived' }));
    const edit = await h!.call('tasks_update', { task_id: t.a!.id, title: 'Rewritten history' });
    expect(edit.isError).toBe(true);
    expect(textOf(edit)).toMatch(/archived; archived tasks are read-only/);
    expect(sc<{ summary: Summary }>(await h!.call('tasks_get', { task_id: t.a!.id })).summary.title).toBe(
      'Old one',
    );
  });
});

describe('tasks_complete gates', () => {
  it('validates the result against output_schema, returning every violation and leaving the task open', async () => {
    await start();
    const schema = {
      type: 'object',
      required: ['summary', 'files'],
      properties: {
        summary: { type: 'string', minLength: 10 },
        files: { type: 'array', items: { type: 'string' } },
      },
      additionalProperties: false,
    };
    const t = await add([{ ref: 'a', title: 'Refactor', output_schema: schema }]);
    const missing = await h!.call('tasks_complete', { task_id: t.a!.id, summary: 'trust me, done' });
    expect(missing.isError).toBe(true);
    expect(textOf(missing)).toMatch(/result is required/);
    const bad = await h!.call('tasks_complete', {
      task_id: t.a!.id,
      result: { summary: 'short', files: [1], extra: true },
    });
    const text = textOf(bad);
    expect(text).toMatch(/^\[GATE_FAILED\] Task t_\w+ was not completed: 3 gate violation/);
    expect(text).toMatch(/result\/summary must NOT have fewer than 10 characters/);
    expect(text).toMatch(/result\/files\/0 must be string/);
    expect(text).toMatch(/additional properties/);
    expect(sc<{ summary: Summary }>(await h!.call('tasks_get', { task_id: t.a!.id })).summary.status).toBe(
      'ready',
    );
    const ok = sc<{ task: Summary }>(
      await h!.call('tasks_complete', {
        task_id: t.a!.id,
        result: { summary: 'moved parsing into its own module', files: ['src/p.ts'] },
      }),
    );
    expect(ok.task.status).toBe('completed');
    const history = sc<{ entries: Array<{ type: string }> }>(
      await h!.call('tasks_history', { task_id: t.a!.id }),
    );
    expect(history.entries.map((e) => e.type)).toEqual(['completed', 'gate_failed', 'gate_failed', 'added']);
  });

  it('runs command gates without a shell and requires exit 0 (failures and timeouts reported)', async () => {
    const project = await gateProject({
      fails: 'node -e "console.log(\'3 tests failed\'); process.exit(3)"',
      hangs: 'node -e "setTimeout(() => {}, 60000)"',
      literal: 'node check.js',
      passes: 'node -e "process.exit(0)"',
    });
    // "$HOME" is a file name here: it must reach the script as those characters, unexpanded.
    await fs.writeFile(path.join(project, '$HOME'), '');
    await fs.writeFile(path.join(project, 'check.js'), 'process.exit(process.argv[2] === "$HOME" ? 0 : 1)');
    await start({}, project);
    const t = await add([
      { ref: 'fails', title: 'Failing gate', command_gates: [{ command: 'npm', args: ['run', 'fails'] }] },
      {
        ref: 'hangs',
        title: 'Hanging gate',
        command_gates: [{ command: 'npm', args: ['run', 'hangs'], timeout_s: 1 }],
      },
      {
        ref: 'shell',
        title: 'No shell',
        command_gates: [{ command: 'npm', args: ['run', 'literal', '--', '$HOME'] }],
      },
      {
        ref: 'passes',
        title: 'Passing gate',
        command_gates: [{ command: 'npm', args: ['run', 'passes'] }],
      },
    ]);
    const fails = await h!.call('tasks_complete', { task_id: t.fails!.id });
    expect(textOf(fails)).toMatch(/command gate "npm run fails" failed \(exit 3\):[\s\S]*3 tests failed/);
    const t0 = Date.now();
    const hangs = await h!.call('tasks_complete', { task_id: t.hangs!.id });
    expect(textOf(hangs)).toMatch(/timed out after 1 s/);
    expect(Date.now() - t0).toBeLessThan(10_000);
    const shell = sc<{ gates: Array<{ ok: boolean }> }>(
      await h!.call('tasks_complete', { task_id: t.shell!.id }),
    );
    expect(shell.gates[0]?.ok).toBe(true);
    const passes = sc<{ task: Summary; gates: Array<{ gate: string; ok: boolean; exit_code: number }> }>(
      await h!.call('tasks_complete', { task_id: t.passes!.id }),
    );
    expect(passes.task.status).toBe('completed');
    expect(passes.gates).toMatchObject([{ ok: true, exit_code: 0, status: 'passed' }]);
    expect(
      sc<{ summary: Summary }>(await h!.call('tasks_get', { task_id: t.fails!.id })).summary.status,
    ).toBe('ready');
  });

  it('runs and reports every gate, even when another one fails', async () => {
    const project = await gateProject({ lint: 'node -e "console.log(\'2 lint errors\'); process.exit(1)"' });
    await start({}, project);
    const t = await add([
      {
        ref: 'a',
        title: 'Both gates fail',
        output_schema: { type: 'object', required: ['summary'] },
        command_gates: [{ command: 'npm', args: ['run', 'lint'] }],
      },
    ]);
    const r = await h!.call('tasks_complete', { task_id: t.a!.id });
    expect(r.isError).toBe(true);
    // The schema violation and the failing command are both reported at once.
    expect(textOf(r)).toMatch(
      /result is required[\s\S]*command gate "npm run lint" failed \(exit 1\)[\s\S]*2 lint errors/,
    );
  });

  it('does not run gates while execution is off: the task stays open with "not run"', async () => {
    const project = await gateProject({ test: 'touch ran' });
    await start({ TASK_ORCHESTRATOR_EXECUTE: 'off' }, project);
    const t = await add([{ ref: 'a', title: 'Gated', command_gates: [{ command: 'npm', args: ['test'] }] }]);
    const r = await h!.call('tasks_complete', { task_id: t.a!.id });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/npm test.*not run: execution off/);
    expect(sc<{ summary: Summary }>(await h!.call('tasks_get', { task_id: t.a!.id })).summary.status).toBe(
      'ready',
    );
    await expect(fs.access(path.join(project, 'ran'))).rejects.toThrow();
  });

  it('stores detailed work as an artifact inside the state folder and refuses path tricks', async () => {
    await start();
    const t = await add([{ ref: 'a', title: 'Write report' }]);
    const trick = await h!.call('tasks_complete', {
      task_id: t.a!.id,
      detailed_work: 'x',
      artifact_name: '../../../etc/cron.d/evil',
    });
    expect(trick.isError).toBe(true);
    expect(textOf(trick)).toMatch(/Invalid artifact name/);
    expect(sc<{ summary: Summary }>(await h!.call('tasks_get', { task_id: t.a!.id })).summary.status).toBe(
      'ready',
    );
    const work = '# Report\n' + 'finding\n'.repeat(10_000);
    const done = sc<{ artifacts: Array<{ path: string; bytes: number }> }>(
      await h!.call('tasks_complete', { task_id: t.a!.id, detailed_work: work, artifact_name: 'report.md' }),
    );
    expect(done.artifacts[0]?.path).toBe(path.join('artifacts', t.a!.id, 'report.md'));
    expect(await fs.readFile(path.join(h!.stateDir, done.artifacts[0]!.path), 'utf8')).toBe(work);
    const got = await h!.call('tasks_get', { task_id: t.a!.id });
    expect(textOf(got).length).toBeLessThan(5000); // the work itself does not come back through the context
  });

  it('keeps a parent open while subtasks are, reports parent progress, and synthesizes results', async () => {
    await start();
    const t = await add([
      { ref: 'p', title: 'Launch' },
      { ref: 'a', title: 'Backend', parent: 'p' },
      { ref: 'b', title: 'Frontend', parent: 'p' },
    ]);
    const early = await h!.call('tasks_complete', { task_id: t.p!.id });
    expect(textOf(early)).toMatch(/2 subtask\(s\) still open/);
    const first = sc<{ parent: { completed: number; total: number } }>(
      await h!.call('tasks_complete', {
        task_id: t.a!.id,
        summary: 'API live',
        result: { endpoints: 4 },
        detailed_work: 'notes',
      }),
    );
    expect(first.parent).toMatchObject({ id: t.p!.id, completed: 1, total: 2, open: 1 });
    sc(await h!.call('tasks_complete', { task_id: t.b!.id, summary: 'UI shipped' }));
    const s = sc<{ complete: boolean; report: string; artifacts: Array<{ path: string }> }>(
      await h!.call('tasks_synthesize', { task_id: t.p!.id }),
    );
    expect(s.complete).toBe(true);
    expect(s.report).toContain('2/2 subtasks completed');
    expect(s.report).toContain('API live');
    expect(s.report).toContain('"endpoints": 4');
    expect(s.artifacts).toHaveLength(1);
    sc(await h!.call('tasks_complete', { task_id: t.p!.id, summary: 'launched' }));
  });
});

describe('finding work', () => {
  it('tasks_next prefers priority, then due date, then the longest chain waiting', async () => {
    await start();
    const t = await add([
      { ref: 'lonely', title: 'Lonely medium' },
      { ref: 'root', title: 'Root medium' },
      { ref: 'mid', title: 'Mid', depends_on: [{ task: 'root' }] },
      { ref: 'leaf', title: 'Leaf', depends_on: [{ task: 'mid' }] },
    ]);
    let next = sc<{ next: { task: Summary; critical_path: number; reasons: string[] } }>(
      await h!.call('tasks_next', {}),
    );
    expect(next.next.task.id).toBe(t.root!.id);
    expect(next.next.critical_path).toBe(2);
    await add([{ ref: 'due', title: 'Due soon', due: '2026-01-05' }]);
    next = sc(await h!.call('tasks_next', {}));
    expect(next.next.task.title).toBe('Due soon');
    await add([{ title: 'Urgent', priority: 'critical' }]);
    next = sc(await h!.call('tasks_next', {}));
    expect(next.next.task.title).toBe('Urgent');
    expect(next.next.reasons[0]).toBe('priority critical');
  });

  it("tasks_next recommends a ready leaf, never a parent whose subtasks are open, with its parent's urgency", async () => {
    await start();
    const t = await add([
      { ref: 'epic', title: 'Dark mode epic', priority: 'critical' },
      { ref: 'tokens', title: 'Define colour tokens', parent: 'epic' },
      { ref: 'css', title: 'Apply tokens', parent: 'epic', depends_on: [{ task: 'tokens' }] },
      { ref: 'other', title: 'Unrelated high task', priority: 'high' },
    ]);
    type Next = { next: { task: Summary; reasons: string[] }; alternatives: Array<{ task: Summary }> };
    let next = sc<Next>(await h!.call('tasks_next', {}));
    // The epic is critical but is the sum of its subtasks: its startable leaf comes first, as critical.
    expect(next.next.task.id).toBe(t.tokens!.id);
    expect(next.next.reasons[0]).toBe(`priority critical (part of ${t.epic!.id} "Dark mode epic")`);
    expect(next.next.reasons.at(-1)).toMatch(new RegExp(`a leaf of ${t.epic!.id}`));
    const offered = [next.next, ...next.alternatives].map((c) => c.task.id);
    expect(offered).not.toContain(t.epic!.id);
    expect(offered).not.toContain(t.css!.id);
    expect(offered).toContain(t.other!.id);
    // Within a parent, at any depth.
    next = sc<Next>(await h!.call('tasks_next', { parent: t.epic!.id }));
    expect(next.next.task.id).toBe(t.tokens!.id);
    expect(next.alternatives).toEqual([]);
    // Once its subtasks are closed, the parent itself is the work left.
    sc(await h!.call('tasks_complete', { task_id: t.tokens!.id, summary: 'tokens defined' }));
    sc(await h!.call('tasks_complete', { task_id: t.css!.id, summary: 'applied' }));
    next = sc<Next>(await h!.call('tasks_next', {}));
    expect(next.next.task.id).toBe(t.epic!.id);
  });

  it('tasks_query finds words across title, description and notes, title matches first', async () => {
    await start();
    const t = await add([
      { ref: 'a', title: 'Fix login timeout', description: 'Users are logged out after 5 minutes' },
      { ref: 'b', title: 'Update docs', description: 'Mention the login timeout setting' },
      { ref: 'c', title: 'Unrelated' },
    ]);
    sc(
      await h!.call('tasks_update', {
        task_id: t.c!.id,
        note: 'customer says timeout hits during login too',
      }),
    );
    const r = sc<{ tasks: Array<Summary & { score: number }>; total: number }>(
      await h!.call('tasks_query', { text: 'login timeout' }),
    );
    expect(r.total).toBe(3);
    expect(r.tasks[0]?.title).toBe('Fix login timeout');
    const none = await h!.call('tasks_query', { text: 'kubernetes' });
    expect(textOf(none)).toMatch(/No task matches/);
  });
});

describe('templates', () => {
  it('lists templates, expands a built-in with dependencies, and uses project templates', async () => {
    await start();
    const list = sc<{ templates: Array<{ name: string }> }>(await h!.call('tasks_from_template', {}));
    expect(list.templates.map((t) => t.name).sort()).toEqual(['bugfix', 'feature', 'release', 'research']);

    const made = sc<{ created: Summary[] }>(
      await h!.call('tasks_from_template', { template: 'release', title: 'v2.0', due: '2026-12-24' }),
    );
    expect(made.created).toHaveLength(7);
    const [parent, ...kids] = made.created;
    expect(parent?.title).toBe('Release v2.0');
    expect(kids.every((k) => k.parent === parent?.id)).toBe(true);
    const publish = kids.find((k) => k.title === 'Publish v2.0')!;
    expect(publish.blocked_by).toHaveLength(1);

    await fs.mkdir(path.join(h!.stateDir, 'templates'), { recursive: true });
    await fs.writeFile(
      path.join(h!.stateDir, 'templates', 'spike.json'),
      JSON.stringify({
        name: 'spike',
        description: 'Timeboxed investigation',
        parent: { title: 'Spike: {{title}} ({{days}} days)' },
        tasks: [
          { ref: 'try', title: 'Try {{title}}' },
          { ref: 'tell', title: 'Report on {{title}}', depends_on: ['try'] },
        ],
      }),
    );
    await fs.writeFile(path.join(h!.stateDir, 'templates', 'broken.json'), '{"name": "broken", "tasks": []}');
    const custom = sc<{ created: Summary[]; invalid: Array<{ file: string; error: string }> }>(
      await h!.call('tasks_from_template', { template: 'spike', title: 'WASM', params: { days: '2' } }),
    );
    expect(custom.created[0]?.title).toBe('Spike: WASM (2 days)');
    // A missing parameter is refused, not left as "{{days}}" in a stored task.
    const before = sc<{ total: number }>(
      await h!.call('tasks_list', { include_closed: true, limit: 1 }),
    ).total;
    const missing = await h!.call('tasks_from_template', { template: 'spike', title: 'Rust' });
    expect(missing.isError).toBe(true);
    expect(textOf(missing)).toMatch(/Template "spike" needs \{\{days\}\}.*params: \{"days": "..."\}/);
    expect(sc<{ total: number }>(await h!.call('tasks_list', { include_closed: true, limit: 1 })).total).toBe(
      before,
    );
    expect(custom.invalid.map((i) => path.basename(i.file))).toEqual(['broken.json']);
    const unknown = await h!.call('tasks_from_template', { template: 'epic', title: 'x' });
    expect(textOf(unknown)).toMatch(
      /No template "epic".*Available: .*spike.*invalid template files: broken\.json/,
    );
  });
});
