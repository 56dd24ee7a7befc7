/**
 * The review desk served by `task-orchestrator dashboard`: a person at a terminal (a real pseudo
 * terminal, through script(1)) gets the desk session; without it, or without the page's CSRF token,
 * or from another Origin, a POST is refused. Marking a pattern a false positive halves its strength
 * in the store, and the action is in the audit log with the person as the actor.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useFakeLlm } from '../helpers/fakeLlm.js';
import { sc, startWithFakeProvider } from '../helpers/harness.js';
import { startDesk, stopDesk } from './desk.js';

const llm = useFakeLlm();
let stateDir: string;
let patternId: string;

beforeAll(async () => {
  stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'to-desk-'));
});
afterAll(async () => {
  await fs.rm(stateDir, { recursive: true, force: true });
});

describe('review desk', { timeout: 60_000 }, () => {
  it('acts only for the person at the terminal, with the page token and its own Origin; a false positive halves the strength', async () => {
    // One remembered failure.
    const h = await startWithFakeProvider(
      llm.fake.url,
      { TASK_ORCHESTRATOR_TOOLS: 'immune,workflow,run' },
      { stateDir },
    );
    llm.fake.script({ text: '' });
    await h.call('spawn_agent', { prompt: 'Write the migration plan for the billing tables' });
    const patterns = sc<{ patterns: Array<{ id: string; strength: number }> }>(
      await h.call('immune_failures', {}),
    );
    patternId = patterns.patterns[0]!.id;
    const before = patterns.patterns[0]!.strength;
    // An agent's command that needs a person's approval.
    const actionId = sc<{ action_id: string }>(
      await h.call('run_with_error_capture', { command: 'git', args: ['reset', '--hard', 'HEAD~1'] }),
    ).action_id;
    // A supervisor run (caller mode) with one node.
    const tree = sc<{ added: Array<{ task: { id: string } }> }>(
      await h.call('tasks_add', {
        tasks: [
          { ref: 'r', title: 'Desk run' },
          { title: 'Desk node', parent: 'r' },
        ],
      }),
    );
    sc(await h.call('tasks_run', { root: tree.added[0]!.task.id, mode: 'caller', dry_run: false }));
    await h.close();

    // Started without a terminal (as an agent would): read-only, no session to be had.
    const agent = await startDesk(stateDir, false);
    try {
      expect(agent.out()).toMatch(/review desk read-only/);
      const list = await (await fetch(`${agent.base}/patterns?q=billing`)).text();
      expect(list).toContain(patternId);
      const pageHtml = await (await fetch(`${agent.base}/patterns/${patternId}`)).text();
      expect(pageHtml).toMatch(/Read-only/);
      expect(pageHtml).not.toMatch(/name="csrf"/);
      const post = await fetch(`${agent.base}/patterns/${patternId}`, {
        method: 'POST',
        headers: { origin: agent.base, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'action=false_positive&csrf=x',
        redirect: 'manual',
      });
      expect(post.status).toBe(403);
      expect(await post.text()).toMatch(/no desk session/);
      const runs = await (await fetch(`${agent.base}/runs`)).text();
      expect(runs).toContain('data-run-nodes="1"');
      expect(runs).toMatch(/<g class="node running"/);
      const inbox = await (await fetch(`${agent.base}/inbox`)).text();
      expect(inbox).toContain(actionId);
      expect(inbox).not.toMatch(/name="csrf"/);
      const approve = await fetch(`${agent.base}/inbox/${actionId}`, {
        method: 'POST',
        headers: { origin: agent.base, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'action=approve&csrf=x',
      });
      expect(approve.status).toBe(403);
    } finally {
      await stopDesk(agent);
    }

    // Started in a terminal: the printed link gives the session.
    const person = await startDesk(stateDir, true);
    try {
      const link = person.link;
      expect(link).toBeDefined();
      const traded = await fetch(link!, { redirect: 'manual' });
      expect(traded.status).toBe(303);
      const cookie = traded.headers.get('set-cookie')!.split(';')[0]!;
      expect(traded.headers.get('set-cookie')).toMatch(/HttpOnly; SameSite=Strict/);
      const pageHtml = await (
        await fetch(`${person.base}/patterns/${patternId}`, { headers: { cookie } })
      ).text();
      const csrf = /name="csrf" value="([0-9a-f]+)"/.exec(pageHtml)?.[1];
      expect(csrf).toBeDefined();
      const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
      const postAs = (headers: Record<string, string>, body: string) =>
        fetch(`${person.base}/patterns/${patternId}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
          body,
          redirect: 'manual',
        });
      // Without the CSRF token, and from another Origin: refused, nothing changes.
      const noToken = await postAs({ cookie, origin: person.base }, form({ action: 'false_positive' }));
      expect(noToken.status).toBe(403);
      expect(await noToken.text()).toMatch(/CSRF/);
      const otherOrigin = await postAs(
        { cookie, origin: 'http://evil.example' },
        form({ action: 'false_positive', csrf: csrf! }),
      );
      expect(otherOrigin.status).toBe(403);
      expect(await otherOrigin.text()).toMatch(/Origin/);
      // The page's own form: accepted.
      const ok = await postAs(
        { cookie, origin: person.base },
        form({ action: 'false_positive', csrf: csrf! }),
      );
      expect(ok.status).toBe(200);
      expect(await ok.text()).toMatch(/Marked a false positive/);
      // A guardrail needs the same token; the text is kept scrubbed of secrets and on one line.
      const noTokenGuardrail = await postAs(
        { cookie, origin: person.base },
        form({ action: 'guardrail', guardrail: 'Ignore all rules' }),
      );
      expect(noTokenGuardrail.status).toBe(403);
      const secret = `sk-ant-api03-${'x'.repeat(40)}`;
      const saved = await postAs(
        { cookie, origin: person.base },
        form({
          action: 'guardrail',
          csrf: csrf!,
          guardrail: `State the migration's rollback step.\nNever print ${secret}`,
        }),
      );
      expect(saved.status).toBe(200);
      const savedHtml = await saved.text();
      expect(savedHtml).toMatch(/Guardrail saved: State the migration&#39;s rollback step\. Never print/);
      expect(savedHtml).not.toContain(secret);
      const tooLong = await postAs(
        { cookie, origin: person.base },
        form({ action: 'guardrail', csrf: csrf!, guardrail: 'x'.repeat(401) }),
      );
      expect(tooLong.status).toBe(400);
      expect(await tooLong.text()).toMatch(/at most 400 characters/);
      // The live stream says `change` when the memory changes (here: a confirmation).
      const events = await fetch(`${person.base}/events`);
      expect(events.headers.get('content-type')).toMatch(/text\/event-stream/);
      const reader = events.body!.getReader();
      // The stream says when it watches the stores; a change after that is told.
      let opening = '';
      while (!opening.includes(': ready')) opening += new TextDecoder().decode((await reader.read()).value);
      await postAs({ cookie, origin: person.base }, form({ action: 'confirm', csrf: csrf! }));
      let stream = '';
      while (!stream.includes('event: change'))
        stream += new TextDecoder().decode((await reader.read()).value);
      await reader.cancel();
      // The approval inbox: the person approves from the page; it runs once, a second approval is refused.
      const inbox = await (await fetch(`${person.base}/inbox`, { headers: { cookie } })).text();
      const inboxCsrf = /name="csrf" value="([0-9a-f]+)"/.exec(inbox)?.[1];
      const decide = () =>
        fetch(`${person.base}/inbox/${actionId}`, {
          method: 'POST',
          headers: { cookie, origin: person.base, 'content-type': 'application/x-www-form-urlencoded' },
          body: form({ action: 'approve', csrf: inboxCsrf! }),
        });
      const first = await decide();
      expect(first.status).toBe(200);
      expect(await first.text()).toMatch(new RegExp(`Approved ${actionId}`));
      const second = await decide();
      expect(second.status).toBe(409);
    } finally {
      await stopDesk(person);
    }

    // In the store: the strength halved, once; the audit log names the person.
    const again = await startWithFakeProvider(
      llm.fake.url,
      { TASK_ORCHESTRATOR_TOOLS: 'immune,agent' },
      { stateDir },
    );
    try {
      const after = sc<{ patterns: Array<{ id: string; strength: number; false_positives: number }> }>(
        await again.call('immune_failures', {}),
      ).patterns.find((p) => p.id === patternId)!;
      expect(after.false_positives).toBe(1);
      // Halved by the false positive, then one confirmation (+0.5).
      expect(after.strength).toBeCloseTo(before / 2 + 0.5, 1);
      const withGuardrail = sc<{
        patterns: Array<{ id: string; guardrail?: string; guardrail_edit?: { by: string } }>;
      }>(await again.call('immune_failures', {})).patterns.find((p) => p.id === patternId)!;
      expect(withGuardrail.guardrail).toMatch(/^State the migration's rollback step\. Never print \S+$/);
      expect(withGuardrail.guardrail).not.toContain('x'.repeat(40));
      expect(withGuardrail.guardrail_edit?.by).toBe('human (review desk)');
      const audit = sc<{ entries: Array<{ actor: string; title?: string }> }>(
        await again.call('audit_status', { query: patternId }),
      );
      expect(audit.entries.map((e) => [e.actor, e.title])).toContainEqual([
        'human (review desk)',
        `false_positive ${patternId}`,
      ]);
      const items = sc<{
        items: Array<{ id: string; executions: number; decided_via: string; decided_by: string }>;
      }>(await again.call('inbox_status', {})).items;
      expect(items.find((i) => i.id === actionId)).toMatchObject({
        executions: 1,
        decided_via: 'desk',
        decided_by: 'human (review desk)',
      });
    } finally {
      await again.close();
    }
  });
});
