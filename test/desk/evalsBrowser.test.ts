/// <reference lib="dom" />
/**
 * Evaluation runs on the desk in real headless Chromium: a person opens the evaluations page,
 * opens a run, reads the case x model matrix and what flipped against the baseline, and follows a
 * failing case to its trial (prompt and answer, escaped). A screenshot goes to docs/ with UPDATE_DOCS.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium as playwright } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { findChromium, skipBrowserTests } from '../helpers/browser.js';
import { useFakeLlm } from '../helpers/fakeLlm.js';
import { sc, startWithFakeProvider } from '../helpers/harness.js';
import { startDesk, stopDesk } from './desk.js';

const docs = path.resolve(import.meta.dirname, '../../docs');
const chromium = findChromium();
const llm = useFakeLlm();
let project: string;

beforeAll(async () => {
  project = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'to-desk-evals-')));
});
afterAll(async () => {
  await fs.rm(project, { recursive: true, force: true });
});

describe('evaluation runs on the desk in Chromium', { timeout: 90_000 }, () => {
  it.skipIf(skipBrowserTests(chromium))(
    'opens a run, reads the matrix and the diff, follows a case to its trial',
    async () => {
      const stateDir = path.join(project, '.task-orchestrator');
      await fs.mkdir(path.join(project, 'evals'));
      await fs.writeFile(
        path.join(project, 'evals', 'tone.yaml'),
        stringify({
          name: 'tone',
          providers: ['openai/polite', 'openai/rude'],
          cases: ['greet', 'thank', 'apologise'].map((id) => ({
            id,
            prompt: `Write one sentence to ${id} a customer.`,
            assert: [{ type: 'not-contains', value: 'whatever' }],
          })),
        }),
      );
      const h = await startWithFakeProvider(
        llm.fake.url,
        { TASK_ORCHESTRATOR_TOOLS: 'eval' },
        { cwd: project, stateDir },
      );
      let rudeCases = new Set(['thank']);
      llm.fake.respond((prompt, _wire, model) => {
        const id = /to (\w+) a customer/.exec(prompt)?.[1] ?? '';
        return {
          text:
            model === 'rude' && rudeCases.has(id)
              ? `<b>whatever</b>, ${id}.`
              : `Dear customer, we ${id} you.`,
        };
      });
      const first = sc<{ run: { id: string } }>(await h.call('eval_run', { suite: 'evals/tone.yaml' })).run
        .id;
      sc(await h.call('eval_compare', { after: first, before: first, pin: true }));
      rudeCases = new Set(['thank', 'apologise']);
      const second = sc<{ run: { id: string } }>(await h.call('eval_run', { suite: 'evals/tone.yaml' })).run
        .id;
      await h.close();

      const desk = await startDesk(stateDir, false);
      const browser = await playwright.launch({ executablePath: chromium!, args: ['--no-sandbox'] });
      try {
        const page = await (await browser.newContext({ viewport: { width: 1100, height: 800 } })).newPage();
        await page.goto(`${desk.base}/patterns`);
        await page.getByRole('link', { name: 'Evaluations' }).click();
        await page.getByRole('link', { name: second }).click();
        expect(new URL(page.url()).pathname).toBe(`/evals/${second}`);
        const cell = (key: string) => page.locator(`td[data-cell="${key}"]`);
        expect(await cell('greet@openai/polite').textContent()).toMatch(/^PASS/);
        expect(await cell('thank@openai/rude').textContent()).toMatch(/^FAIL/);
        expect(await cell('apologise@openai/rude').textContent()).toMatch(/^FAIL/);
        // Against the pinned baseline: exactly the one new failure.
        expect(
          await page
            .locator('#eval-diff tr[data-flip]')
            .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-flip'))),
        ).toEqual(['apologise@openai/rude']);
        expect(await page.locator('#eval-diff').textContent()).toMatch(
          /1 newly failing, 0 newly passing: not significant/,
        );
        if (process.env.UPDATE_DOCS)
          await page.screenshot({ path: path.join(docs, 'desk-evals.png'), fullPage: true });
        // Follow the failing case to its trial: the answer shows as text, never as markup.
        await page.getByRole('link', { name: 'trial 1 of apologise on openai/rude' }).click();
        expect(new URL(page.url()).pathname).toMatch(/^\/trials\/tri_/);
        expect(await page.locator('#trial-prompt').textContent()).toBe(
          'Write one sentence to apologise a customer.',
        );
        expect(await page.locator('#trial-output').textContent()).toBe('<b>whatever</b>, apologise.');
        expect(await page.locator('#trial-output b').count()).toBe(0);
        expect(await page.getByRole('cell', { name: 'not-contains' }).count()).toBe(1);
        await page.getByRole('link', { name: `run ${second}` }).click();
        expect(new URL(page.url()).pathname).toBe(`/evals/${second}`);
      } finally {
        await browser.close();
        await stopDesk(desk);
      }
    },
  );
});

describe('evaluation runs on the desk, live', { timeout: 60_000 }, () => {
  it('tells an open page when an evaluation run moves on, from another process', async () => {
    const dir = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'to-desk-evals-live-')));
    const stateDir = path.join(dir, '.task-orchestrator');
    await fs.mkdir(path.join(dir, 'evals'));
    await fs.writeFile(
      path.join(dir, 'evals', 'live.yaml'),
      stringify({ name: 'live', providers: ['openai/m'], cases: [{ id: 'one', prompt: 'Say one.' }] }),
    );
    const h = await startWithFakeProvider(
      llm.fake.url,
      { TASK_ORCHESTRATOR_TOOLS: 'eval' },
      { cwd: dir, stateDir },
    );
    const desk = await startDesk(stateDir, false);
    try {
      const events = await fetch(`${desk.base}/events`);
      const reader = events.body!.getReader();
      let seen = '';
      while (!seen.includes(': ready')) seen += new TextDecoder().decode((await reader.read()).value);
      sc(await h.call('eval_run', { suite: 'evals/live.yaml' }));
      seen = '';
      while (!seen.includes('event: change')) seen += new TextDecoder().decode((await reader.read()).value);
      await reader.cancel();
    } finally {
      await stopDesk(desk);
      await h.close();
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
