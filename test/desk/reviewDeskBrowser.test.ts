/// <reference lib="dom" />
/**
 * The review desk in real headless Chromium (Debian's chromium driven by playwright-core): the
 * person opens the link the terminal printed, marks a pattern a false positive with the keyboard
 * and the button's label, and approves an inbox item by clicking; the store shows the strength
 * halved and the action run exactly once. A screenshot of each page goes to docs/ with UPDATE_DOCS.
 */
import { promises as fs } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium as playwright } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findChromium, skipBrowserTests } from '../helpers/browser.js';
import { useFakeLlm } from '../helpers/fakeLlm.js';
import { sc, startWithFakeProvider } from '../helpers/harness.js';
import { startDesk, stopDesk } from './desk.js';

const docs = path.resolve(import.meta.dirname, '../../docs');
const chromium = findChromium();
const llm = useFakeLlm();
let stateDir: string;

beforeAll(async () => {
  stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'to-desk-ui-'));
});
afterAll(async () => {
  await fs.rm(stateDir, { recursive: true, force: true });
});

describe('review desk in Chromium', { timeout: 90_000 }, () => {
  it.skipIf(skipBrowserTests(chromium))(
    'marks a false positive and approves an inbox item from the pages',
    async () => {
      const h = await startWithFakeProvider(
        llm.fake.url,
        { TASK_ORCHESTRATOR_TOOLS: 'immune,workflow' },
        { stateDir },
      );
      llm.fake.script({ text: '' });
      await h.call('spawn_agent', { prompt: 'Summarise the quarterly billing report for the board' });
      const pattern = sc<{ patterns: Array<{ id: string; strength: number }> }>(
        await h.call('immune_failures', {}),
      ).patterns[0]!;
      const actionId = sc<{ action_id: string }>(
        await h.call('run_with_error_capture', { command: 'git', args: ['reset', '--hard', 'HEAD~1'] }),
      ).action_id;
      await h.close();

      const desk = await startDesk(stateDir, true);
      const link = desk.link!;
      const browser = await playwright.launch({ executablePath: chromium!, args: ['--no-sandbox'] });
      try {
        const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
        const page = await context.newPage();
        await page.goto(link);
        expect(new URL(page.url()).pathname).toBe('/patterns');
        await page.getByLabel('Search').fill('billing');
        await page.getByRole('button', { name: 'Filter' }).click();
        await page.getByRole('link', { name: pattern.id }).click();
        if (process.env.UPDATE_DOCS)
          await page.screenshot({ path: path.join(docs, 'desk-pattern.png'), fullPage: true });
        // By keyboard: focus the labelled button and press Enter.
        await page.getByRole('button', { name: 'Mark false positive' }).focus();
        await page.keyboard.press('Enter');
        await page.getByRole('status').waitFor();
        expect(await page.getByRole('status').textContent()).toMatch(/Marked a false positive/);

        // Another page on this machine (same site, other origin) posts the desk's own form with
        // the real CSRF token, as if it had leaked: the browser sends the session cookie, the
        // Origin check refuses it.
        const csrf = await page.locator('input[name="csrf"]').first().inputValue();
        const evil = createServer((_req, res) =>
          res
            .writeHead(200, { 'content-type': 'text/html' })
            .end(
              `<form method="post" action="${desk.base}/patterns/${pattern.id}"><input name="csrf" value="${csrf}"><button name="action" value="false_positive">go</button></form>`,
            ),
        );
        await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
        try {
          const other = await context.newPage();
          await other.goto(`http://127.0.0.1:${(evil.address() as AddressInfo).port}/`);
          const [answer] = await Promise.all([
            other.waitForResponse((r) => r.url().startsWith(desk.base)),
            other.getByRole('button', { name: 'go' }).click(),
          ]);
          expect(answer.status()).toBe(403);
          expect(await answer.text()).toMatch(/Origin/);
          await other.close();
        } finally {
          evil.close();
        }

        // From the desk's own page (same origin, session cookie sent) but without the CSRF token.
        const noToken = await page.evaluate(async (id) => {
          const r = await fetch(`/patterns/${id}`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: 'action=false_positive',
          });
          return `${r.status} ${await r.text()}`;
        }, pattern.id);
        expect(noToken).toMatch(/^403 refused: missing or wrong CSRF token/);

        await page.getByRole('link', { name: 'Approval inbox' }).click();
        await page.getByRole('button', { name: `Approve ${actionId}` }).click();
        await page.getByRole('status').waitFor();
        expect(await page.getByRole('status').textContent()).toMatch(new RegExp(`Approved ${actionId}`));
        // Decided: the row has no buttons any more.
        expect(await page.getByRole('button', { name: `Approve ${actionId}` }).count()).toBe(0);
        if (process.env.UPDATE_DOCS)
          await page.screenshot({ path: path.join(docs, 'desk-inbox.png'), fullPage: true });
        await page.goto(`${desk.base}/patterns`);
        if (process.env.UPDATE_DOCS)
          await page.screenshot({ path: path.join(docs, 'desk-patterns.png'), fullPage: true });
      } finally {
        await browser.close();
        await stopDesk(desk);
      }

      const again = await startWithFakeProvider(
        llm.fake.url,
        { TASK_ORCHESTRATOR_TOOLS: 'immune,agent' },
        { stateDir },
      );
      try {
        const after = sc<{ patterns: Array<{ id: string; strength: number }> }>(
          await again.call('immune_failures', {}),
        ).patterns.find((p) => p.id === pattern.id)!;
        expect(after.strength).toBeCloseTo(pattern.strength / 2, 1);
        const item = sc<{ items: Array<{ id: string; executions: number; status: string }> }>(
          await again.call('inbox_status', {}),
        ).items.find((i) => i.id === actionId)!;
        expect(item.executions).toBe(1);
        expect(item.status).not.toBe('pending');
      } finally {
        await again.close();
      }
    },
  );

  it.skipIf(skipBrowserTests(chromium))(
    'shows new failures and checks without reloading, edits a guardrail the next check uses, and walks by keyboard',
    async () => {
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'to-desk-live-'));
      const h = await startWithFakeProvider(
        llm.fake.url,
        { TASK_ORCHESTRATOR_TOOLS: 'immune,run,workflow' },
        { stateDir: dir },
      );
      const desk = await startDesk(dir, true);
      const browser = await playwright.launch({ executablePath: chromium!, args: ['--no-sandbox'] });
      try {
        // An empty answer: a failure the memory records; the newest pattern is its.
        const fail = async (prompt: string) => {
          llm.fake.script({ text: '' });
          await h.call('spawn_agent', { prompt });
          return sc<{ patterns: Array<{ id: string }> }>(await h.call('immune_failures', {})).patterns[0]!;
        };
        const prompt = 'Draft the incident report for the payments outage of last night';
        const first = await fail(prompt);

        const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
        await page.goto(desk.link!);
        await page.evaluate(() => ((window as unknown as { opened: number }).opened = 1));
        // A new failure, recorded by the MCP server (another process's store): the row appears.
        const second = await fail('Translate the onboarding guide for warehouse staff into Polish');
        expect(second.id).not.toBe(first.id);
        const row = page.locator(`#pattern-list tr[data-key="${second.id}"]`);
        await row.waitFor({ timeout: 15_000 });
        expect(await row.getAttribute('class')).toBe('new');
        // Not a reload: the page's state survived, and the update was announced.
        expect(await page.evaluate(() => (window as unknown as { opened?: number }).opened)).toBe(1);
        expect(await page.locator('#live-status').textContent()).toMatch(/1 new/);
        // A later update (another failure) keeps the mark on the row that came first: on the database
        // each commit announces a change, so a page refreshes several times for one failure.
        const third = await fail('Summarise the quarterly churn figures for the board meeting');
        expect(third.id).not.toBe(second.id);
        await page.locator(`#pattern-list tr[data-key="${third.id}"]`).waitFor({ timeout: 15_000 });
        expect(await row.getAttribute('class')).toBe('new');
        await expect.poll(() => page.locator('#live-status').textContent()).toMatch(/2 new/);

        // The pattern page by keyboard: the skip link first, then every control, each with a name.
        await page.goto(`${desk.base}/patterns/${first.id}`);
        // Why the graders failed it, next to their scores.
        expect(await page.locator('main').textContent()).toContain('output is empty or whitespace');
        await page.keyboard.press('Tab');
        expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
        await page.keyboard.press('Enter');
        expect(await page.evaluate(() => document.activeElement?.id)).toBe('main');
        const reached: string[] = [];
        for (let i = 0; i < 40; i++) {
          await page.keyboard.press('Tab');
          const name = await page.evaluate(() => {
            const e = document.activeElement as HTMLInputElement | null;
            if (!e || e === document.body) return null;
            const label = e.labels?.[0]?.textContent ?? e.getAttribute('aria-label') ?? e.textContent ?? '';
            return `${e.tagName.toLowerCase()}:${label.trim()}`;
          });
          if (name === null || reached.includes(name)) break;
          reached.push(name);
        }
        const controls = await page.evaluate(
          () =>
            document.querySelectorAll(
              'main a[href], main button, main input:not([type=hidden]), main textarea, main select',
            ).length,
        );
        expect(reached.length).toBe(controls);
        for (const r of reached) expect(r).toMatch(/^\w+:\S/);
        expect(reached).toContain('button:Save guardrail');

        // A person's guardrail text: saved from the page, used by the next check.
        const words = 'Quote the outage timeline from the status page verbatim; never guess durations.';
        await page.getByLabel(/Guardrail text/).fill(words);
        await page.getByRole('button', { name: 'Save guardrail' }).press('Enter');
        await page.getByRole('status').filter({ hasText: 'Guardrail saved' }).waitFor();
        const check = sc<{
          guardrails: string[];
          matches: Array<{ pattern_id: string; guardrail?: string }>;
        }>(await h.call('immune_check', { prompt }));
        expect(check.matches[0]).toMatchObject({ pattern_id: first.id, guardrail: words });
        expect(check.guardrails).toEqual([words]);
        expect(sc<{ guardrails_edited: number }>(await h.call('immune_status', {})).guardrails_edited).toBe(
          1,
        );

        // Checks and blocks it causes show on its page as they happen: it fails again although its
        // guardrail was added (escalated), so the next spawn is blocked by it.
        await page.evaluate(() => ((window as unknown as { opened: number }).opened = 2));
        llm.fake.script({ text: '' });
        expect((await h.call('spawn_agent', { prompt })).isError).toBeFalsy();
        const blocked = await h.call('spawn_agent', { prompt });
        expect(blocked.isError).toBe(true);
        expect(JSON.stringify(blocked.content)).toContain(first.id);
        await page.locator('#pattern-activity [data-blocks="1"]').waitFor({ timeout: 15_000 });
        expect(await page.locator('#pattern-activity').textContent()).toMatch(
          /failed 2 time\(s\) \(1 although guarded\), matched 2 check\(s\) and blocked 1/,
        );
        expect(await page.evaluate(() => (window as unknown as { opened?: number }).opened)).toBe(2);
        if (process.env.UPDATE_DOCS)
          await page.screenshot({ path: path.join(docs, 'desk-pattern-activity.png'), fullPage: true });

        // The inbox updates itself too: an agent's risky command appears while the page is open,
        // and a reason being typed for another item is not thrown away.
        const held = sc<{ action_id: string }>(
          await h.call('run_with_error_capture', { command: 'git', args: ['clean', '-fdx'] }),
        ).action_id;
        await page.goto(`${desk.base}/inbox`);
        await page.evaluate(() => ((window as unknown as { opened: number }).opened = 3));
        await page.locator(`tr[data-item="${held}"] input[name="reason"]`).fill('not on this branch');
        const arriving = sc<{ action_id: string }>(
          await h.call('run_with_error_capture', { command: 'git', args: ['reset', '--hard', 'HEAD~2'] }),
        ).action_id;
        await page.waitForTimeout(2500);
        // Typing in the list: it is left alone until the field is empty again.
        expect(await page.locator(`tr[data-item="${arriving}"]`).count()).toBe(0);
        await page.locator(`tr[data-item="${held}"] input[name="reason"]`).fill('');
        await page.locator('h1').click();
        llm.fake.script({ text: '' });
        await h.call('spawn_agent', { prompt: 'Something else entirely to trigger a change' });
        await page.locator(`tr[data-item="${arriving}"]`).waitFor({ timeout: 15_000 });
        expect(await page.evaluate(() => (window as unknown as { opened?: number }).opened)).toBe(3);

        // A supervisor run for the runs page (caller mode: the first node is handed out).
        const tree = sc<{ added: Array<{ task: { id: string } }> }>(
          await h.call('tasks_add', {
            tasks: [
              { ref: 'r', title: 'Quarterly close' },
              { ref: 'a', title: 'Collect bank statements', parent: 'r' },
              { ref: 'b', title: 'Reconcile ledgers', parent: 'r', depends_on: [{ task: 'a' }] },
              { ref: 'c', title: 'Review accruals', parent: 'r' },
              { title: 'Draft the close memo', parent: 'r', depends_on: [{ task: 'b' }, { task: 'c' }] },
            ],
          }),
        );
        await h.call('tasks_run', { root: tree.added[0]!.task.id, mode: 'caller', dry_run: false });
        await page.goto(`${desk.base}/runs`);
        expect(await page.locator('svg[data-run-nodes="4"]').count()).toBe(1);
        if (process.env.UPDATE_DOCS)
          await page.screenshot({ path: path.join(docs, 'desk-runs.png'), fullPage: true });
      } finally {
        await browser.close();
        await stopDesk(desk);
        await h.close();
        await fs.rm(dir, { recursive: true, force: true });
      }
    },
  );
});
