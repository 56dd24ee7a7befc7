/**
 * The review desk in real headless Chromium (Debian's chromium driven by playwright-core): the
 * person opens the link the terminal printed, marks a pattern a false positive with the keyboard
 * and the button's label, and approves an inbox item by clicking; the store shows the strength
 * halved and the action run exactly once. A screenshot of each page goes to docs/ with UPDATE_DOCS.
 */
import { promises as fs } from 'node:fs';
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
        const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
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
});
