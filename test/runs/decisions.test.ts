/**
 * A human decision always moves a supervisor run on, through MCP on the scripted team, from each
 * channel a person has: a node rejected (by approve_action, on the desk, in the client's form)
 * skips its dependents with the reason, the rest finishes, the synthesis names the gap and the
 * root ends partly done; approved (on the desk, in the client's form; the terminal is tested in
 * runs.test.ts) it runs again and the run completes. tasks_run returns as soon as the run needs
 * a person, and says so.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { useFakeLlm } from '../helpers/fakeLlm.js';
import { sc, startWithFakeProvider } from '../helpers/harness.js';
import type { Harness } from '../helpers/harness.js';
import { isSynthesis, taskOf, team, titleOf } from '../fakes/team.js';
import { startDesk, stopDesk } from '../desk/desk.js';

const llm = useFakeLlm();
const open: Harness[] = [];
const folders: string[] = [];
afterEach(async () => {
  for (const h of open.splice(0).reverse()) await h.close();
  for (const f of folders.splice(0)) await fs.rm(f, { recursive: true, force: true });
});

interface RunView {
  run_id: string;
  status: string;
  nodes: Array<{ task: string; title: string; state: string; inbox_id?: string; reason?: string }>;
  synthesis?: { state: string; output?: string };
  history: Array<{ at: string; text: string }>;
}
interface Started {
  run: RunView;
  returned?: string;
}

const node = (run: RunView, title: string) => run.nodes.find((n) => n.title === title)!;

async function server(
  options: { elicit?: (request: { params: { message: string } }) => unknown; stateDir?: string } = {},
): Promise<Harness> {
  const stateDir = options.stateDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'to-decide-')));
  if (!options.stateDir) folders.push(stateDir);
  const h = await startWithFakeProvider(
    llm.fake.url,
    { TASK_ORCHESTRATOR_TOOLS: 'task,run,agent' },
    {
      stateDir,
      ...(options.elicit ? { clientOptions: { capabilities: { elicitation: {} } } } : {}),
    },
  );
  if (options.elicit) h.client.setRequestHandler(ElicitRequestSchema, options.elicit as never);
  open.push(h);
  return h;
}

/** Root with a -> b (data) -> d, and c; "Collect the changes" (a) fails with every worker until `fixed`. */
async function failingTree(h: Harness, fixed: () => boolean): Promise<Record<string, string>> {
  llm.fake.respond(
    team({
      worker: (prompt) =>
        titleOf(prompt) === 'Collect the changes' && !fixed()
          ? { text: "I'm sorry, but I can't help with that." }
          : { text: `Done: ${titleOf(prompt)}` },
      synthesis: () => 'Release 2.0: the changelog is updated; the notes are missing.',
    }),
  );
  for (const model of ['w1', 'w2']) sc(await h.call('worker_interview', { provider: 'openai', model }));
  const added = sc<{ added: Array<{ task: { id: string; title: string } }> }>(
    await h.call('tasks_add', {
      tasks: [
        { ref: 'root', title: 'Release notes for 2.0' },
        { ref: 'a', title: 'Collect the changes', parent: 'root' },
        { ref: 'b', title: 'Write the notes', parent: 'root', depends_on: [{ task: 'a', kind: 'data' }] },
        { ref: 'd', title: 'Publish the notes', parent: 'root', depends_on: [{ task: 'b' }] },
        { ref: 'c', title: 'Update the changelog', parent: 'root' },
      ],
    }),
  );
  return Object.fromEntries(added.added.map((c) => [c.task.title, c.task.id]));
}

async function until(h: Harness, runId: string, status: string): Promise<RunView> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const run = sc<{ run: RunView }>(await h.call('tasks_run_status', { run_id: runId })).run;
    if (run.status === status) return run;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`run ${runId} never reached ${status}`);
}

async function taskOfId(h: Harness, id: string) {
  return sc<{ task: { status: string; tags: string[]; summary?: string; notes: Array<{ text: string }> } }>(
    await h.call('tasks_get', { task_id: id }),
  ).task;
}

/** Starts the run with a long wait_s; it must come back as soon as the run needs a person. */
async function startAndWaitForPerson(h: Harness, ids: Record<string, string>) {
  const t0 = Date.now();
  const started = sc<Started>(
    await h.call('tasks_run', {
      root: ids['Release notes for 2.0'],
      dry_run: false,
      retries: 0,
      wait_s: 120,
    }),
  );
  const returnedAt = Date.now();
  expect(started.returned).toBe('needs_person');
  expect(started.run.status).toBe('waiting_for_human');
  const waitingSince = Date.parse(
    started.run.history.find((e) => /waiting for a human decision/.test(e.text))!.at,
  );
  // Back within a second of the run starting to wait (not after wait_s), and well under it.
  expect(returnedAt - waitingSince).toBeLessThan(1000);
  expect(returnedAt - t0).toBeLessThan(30_000);
  return started.run;
}

/** After a rejection: the dependents are skipped with the reason, the root is partly done. */
async function expectPartlyDone(h: Harness, runId: string, ids: Record<string, string>) {
  const run = await until(h, runId, 'partly_done');
  expect(node(run, 'Collect the changes').state).toBe('skipped');
  expect(node(run, 'Collect the changes').reason).toMatch(/rejected by .*: no changes this release/);
  expect(node(run, 'Write the notes')).toMatchObject({ state: 'skipped' });
  expect(node(run, 'Write the notes').reason).toMatch(
    new RegExp(`depends on ${ids['Collect the changes']}, which was skipped`),
  );
  expect(node(run, 'Publish the notes').reason).toMatch(
    new RegExp(`depends on ${ids['Write the notes']}, which was skipped`),
  );
  expect(node(run, 'Update the changelog').state).toBe('done');
  // Their tasks are closed with the reason, so nothing is left open under the root.
  for (const title of ['Collect the changes', 'Write the notes', 'Publish the notes'])
    expect((await taskOfId(h, ids[title]!)).status).toBe('cancelled');
  // The synthesis was told what is missing, and the root says it is partly done.
  const synthesis = llm.fake.requests.filter((r) => isSynthesis(r.prompt));
  expect(synthesis).toHaveLength(1);
  expect(synthesis[0]!.prompt).toMatch(/Not done/);
  expect(synthesis[0]!.prompt).toContain(ids['Write the notes']);
  expect(run.synthesis?.state).toBe('done');
  const root = await taskOfId(h, ids['Release notes for 2.0']!);
  expect(root.status).toBe('completed');
  expect(root.tags).toContain('partly-done');
  expect(root.summary).toMatch(/^Partly done: 3 of 4 subtask\(s\) not done/);
  return run;
}

describe('human decisions move a run on', { timeout: 90_000 }, () => {
  it('a rejection in the inbox skips the node and its dependents; the rest finishes and the root is partly done', async () => {
    const h = await server();
    const ids = await failingTree(h, () => false);
    const waiting = await startAndWaitForPerson(h, ids);
    const blocked = node(waiting, 'Collect the changes');
    expect(blocked.state).toBe('blocked');
    expect(node(waiting, 'Update the changelog').state).toBe('done');
    // Anyone may reject (no form needed): the run goes on by itself.
    const rejected = await h.call('approve_action', {
      action_id: blocked.inbox_id,
      approve: false,
      reason: 'no changes this release',
    });
    expect(rejected.isError).toBeFalsy();
    await expectPartlyDone(h, waiting.run_id, ids);
    // The skipped tasks were never handed to a worker again.
    expect(llm.fake.requests.filter((r) => taskOf(r.prompt) === ids['Write the notes'])).toHaveLength(0);
  });

  it('a rejection on the desk does the same, from the desk process', async () => {
    const stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'to-decide-desk-'));
    folders.push(stateDir);
    const h = await server({ stateDir });
    const ids = await failingTree(h, () => false);
    const waiting = await startAndWaitForPerson(h, ids);
    const inboxId = node(waiting, 'Collect the changes').inbox_id!;
    const desk = await startDesk(stateDir, true);
    try {
      const traded = await fetch(desk.link!, { redirect: 'manual' });
      const cookie = traded.headers.get('set-cookie')!.split(';')[0]!;
      const page = await (await fetch(`${desk.base}/inbox`, { headers: { cookie } })).text();
      expect(page).toContain(inboxId);
      const csrf = /name="csrf" value="([0-9a-f]+)"/.exec(page)![1]!;
      const decided = await fetch(`${desk.base}/inbox/${inboxId}`, {
        method: 'POST',
        headers: { cookie, origin: desk.base, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ action: 'reject', csrf, reason: 'no changes this release' }).toString(),
      });
      expect(decided.status).toBe(200);
    } finally {
      await stopDesk(desk);
    }
    await expectPartlyDone(h, waiting.run_id, ids);
  });

  it("a rejection in the client's form does the same", async () => {
    const h = await server({
      elicit: () => ({
        action: 'accept',
        content: { decision: 'reject', reason: 'no changes this release' },
      }),
    });
    const ids = await failingTree(h, () => false);
    const waiting = await startAndWaitForPerson(h, ids);
    const decided = await h.call('approve_action', {
      action_id: node(waiting, 'Collect the changes').inbox_id,
      approve: true,
    });
    expect(decided.isError).toBeFalsy();
    await expectPartlyDone(h, waiting.run_id, ids);
  });

  it('an approval on the desk runs the node again and the run completes', async () => {
    const stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'to-decide-desk-'));
    folders.push(stateDir);
    let fixed = false;
    const h = await server({ stateDir });
    const ids = await failingTree(h, () => fixed);
    const waiting = await startAndWaitForPerson(h, ids);
    const inboxId = node(waiting, 'Collect the changes').inbox_id!;
    fixed = true;
    const desk = await startDesk(stateDir, true);
    try {
      const traded = await fetch(desk.link!, { redirect: 'manual' });
      const cookie = traded.headers.get('set-cookie')!.split(';')[0]!;
      const page = await (await fetch(`${desk.base}/inbox`, { headers: { cookie } })).text();
      const csrf = /name="csrf" value="([0-9a-f]+)"/.exec(page)![1]!;
      const decided = await fetch(`${desk.base}/inbox/${inboxId}`, {
        method: 'POST',
        headers: { cookie, origin: desk.base, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ action: 'approve', csrf }).toString(),
      });
      expect(decided.status).toBe(200);
    } finally {
      await stopDesk(desk);
    }
    const done = await until(h, waiting.run_id, 'completed');
    expect(done.nodes.every((n) => n.state === 'done')).toBe(true);
    expect((await taskOfId(h, ids['Release notes for 2.0']!)).tags).not.toContain('partly-done');
  });

  it("an approval in the client's form runs the node again and the run completes", async () => {
    let fixed = false;
    const forms: string[] = [];
    const h = await server({
      elicit: (request: { params: { message: string } }) => {
        forms.push(request.params.message);
        fixed = true;
        return { action: 'accept', content: { decision: 'approve' } };
      },
    });
    const ids = await failingTree(h, () => fixed);
    const waiting = await startAndWaitForPerson(h, ids);
    const blocked = node(waiting, 'Collect the changes');
    const approved = await h.call('approve_action', { action_id: blocked.inbox_id, approve: true });
    expect(approved.isError).toBeFalsy();
    expect(forms[0]).toMatch(/Retry this step of a supervisor run/);
    const done = await until(h, waiting.run_id, 'completed');
    expect(done.nodes.every((n) => n.state === 'done')).toBe(true);
    const root = await taskOfId(h, ids['Release notes for 2.0']!);
    expect(root.status).toBe('completed');
    expect(root.tags).not.toContain('partly-done');
  });
});
