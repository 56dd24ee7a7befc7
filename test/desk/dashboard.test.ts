/**
 * The immune dashboard: figures through MCP (json, markdown, html), and the served page rendering
 * its charts in headless Chromium (Debian's chromium package; .ci/run installs it).
 */
import { spawn, execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlmServer } from '../fakes/fakeLlmServer.js';
import type { FakeLlmServer } from '../fakes/fakeLlmServer.js';
import { findChromium, skipBrowserTests } from '../helpers/browser.js';
import { sc, startWithFakeProvider, textOf } from '../helpers/harness.js';
import { track } from '../helpers/processes.js';
import { storageEnv } from '../helpers/storageEnv.js';

const run = promisify(execFile);
const cli = path.resolve(import.meta.dirname, '../../dist/cli.js');
const chromium = findChromium();

const FAILED = 'Generate the JSON profile for the new user account with name and email';
const PARAPHRASE = 'Create a JSON user profile (name, email) for a newly registered account';
const SAVED = 'Produce a JSON profile for the new user with name and email fields';
const EMPTY = 'Write the release notes for version two of the billing service';
const schema = {
  type: 'object',
  required: ['name', 'email'],
  properties: { name: { type: 'string' }, email: { type: 'string' } },
};

interface Dashboard {
  health: { score: number; status: string; patterns: number };
  totals: Record<string, number>;
  guardrail_success_rate: number | null;
  trend: Array<{ date: string; failures: number; checks: number; blocks: number; saves: number }>;
  by_failure_type: Record<string, number>;
  by_operation: Record<string, number>;
  by_model: Record<string, number>;
  top_patterns: Array<{ failure_type: string; occurrences: number }>;
  html_path?: string;
}

let fake: FakeLlmServer;
let stateDir: string;
let figures: Dashboard;

beforeAll(async () => {
  fake = await startFakeLlmServer();
  stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'to-dash-'));
  const h = await startWithFakeProvider(fake.url, { TASK_ORCHESTRATOR_TOOLS: 'immune' }, { stateDir });
  // A json failure, a guarded paraphrase failing anyway, an empty answer twice (the second guarded),
  // its third try blocked, and a guarded json request that then succeeds (a save).
  fake.script(
    { text: 'Sure! The profile is ready.' },
    { text: 'Here it is.' },
    { text: '' },
    { text: '' },
    { text: '{"name": "Ada", "email": "ada@example.com"}' },
  );
  await h.call('spawn_agent', { prompt: FAILED, output_schema: schema });
  await h.call('spawn_agent', { prompt: PARAPHRASE, output_schema: schema });
  await h.call('spawn_agent', { prompt: EMPTY });
  await h.call('spawn_agent', { prompt: EMPTY });
  expect((await h.call('spawn_agent', { prompt: EMPTY })).isError).toBe(true); // blocked
  const saved = await h.call('spawn_agent', { prompt: SAVED, output_schema: schema });
  expect(sc<{ evaluation: { pass: boolean } }>(saved).evaluation.pass).toBe(true);
  figures = sc<Dashboard>(await h.call('immune_dashboard', { format: 'json', days: 7 }));
  const md = await h.call('immune_dashboard', {});
  expect(textOf(md)).toMatch(
    /# Immune dashboard[\s\S]*Failures 4 \(new patterns 3\)[\s\S]*\| json_invalid \| 2 \|/,
  );
  const html = sc<Dashboard>(await h.call('immune_dashboard', { format: 'html' }));
  expect(await fs.readFile(html.html_path!, 'utf8')).toMatch(/^<!doctype html>[\s\S]*Chart\.js v4/);
  await h.close();
});
afterAll(async () => {
  await fake.close();
  await fs.rm(stateDir, { recursive: true, force: true, maxRetries: 3 });
});

describe('immune dashboard', () => {
  it('counts failures, checks, blocks and saves per day and breaks them down', () => {
    expect(figures.totals).toMatchObject({
      failures: 4,
      new_patterns: 3,
      checks: 6,
      blocks: 1,
      saves: 1,
      guarded_failures: 2,
    });
    const today = figures.trend.at(-1)!;
    expect(figures.trend).toHaveLength(7);
    expect(today).toMatchObject({ failures: 4, checks: 6, blocks: 1, saves: 1 });
    expect(figures.by_failure_type).toEqual({ json_invalid: 2, empty_response: 2 });
    expect(figures.by_operation).toEqual({ spawn_agent: 4 });
    expect(Object.keys(figures.by_model)).toEqual([expect.stringMatching(/^openai\//)]);
    expect(figures.top_patterns.map((p) => p.occurrences)).toEqual([2, 1, 1]);
    // One save against two guarded prompts that failed anyway.
    expect(figures.guardrail_success_rate).toBeCloseTo(1 / 3, 3);
    expect(figures.health.patterns).toBe(3);
  });

  it.skipIf(skipBrowserTests(chromium))(
    'serves a page whose charts render in headless Chromium, only to this machine',
    async () => {
      expect(chromium, 'no Chromium: set CHROME_PATH or apt-get install chromium').toBeDefined();
      const child = track(
        spawn(process.execPath, [cli, 'dashboard', '--port', '0'], {
          env: {
            PATH: process.env.PATH ?? '',
            TASK_ORCHESTRATOR_HOME: stateDir,
            ...storageEnv(stateDir),
            TASK_ORCHESTRATOR_CLAUDE_CLI: 'off',
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        }),
      );
      try {
        const url = await new Promise<string>((resolve, reject) => {
          let out = '';
          child.stdout.setEncoding('utf8');
          child.stdout.on('data', (d: string) => {
            out += d;
            const m = /http:\/\/127\.0\.0\.1:\d+\//.exec(out);
            if (m) resolve(m[0]);
          });
          child.on('exit', (code) => reject(new Error(`dashboard exited ${code}`)));
        });
        const data = (await (await fetch(`${url}data.json`)).json()) as Dashboard;
        expect(data.totals.failures).toBe(4);
        // Another host name (DNS rebinding) is refused.
        const port = new URL(url).port;
        const rebound = await new Promise<number>((resolve, reject) => {
          import('node:http')
            .then(({ request }) => {
              const req = request(
                { host: '127.0.0.1', port, path: '/', headers: { host: `evil.example:${port}` } },
                (res) => {
                  res.resume();
                  resolve(res.statusCode ?? 0);
                },
              );
              req.on('error', reject);
              req.end();
            })
            .catch(reject);
        });
        expect(rebound).toBe(403);

        const shot = path.join(stateDir, 'dashboard.png');
        const flags = [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--hide-scrollbars',
          '--virtual-time-budget=5000',
        ];
        const { stdout: dom } = await run(chromium!, [...flags, '--dump-dom', url], { timeout: 60_000 });
        const body = /<body([^>]*)>/.exec(dom)?.[1] ?? '';
        expect(body).toMatch(/data-charts="5"/);
        expect(body).toMatch(/data-painted="5"/);
        expect(body).toMatch(/data-trend-failures="4"/);
        await run(chromium!, [...flags, '--window-size=1280,1500', `--screenshot=${shot}`, url], {
          timeout: 60_000,
        });
        const png = await fs.readFile(shot);
        expect(png.subarray(1, 4).toString()).toBe('PNG');
        expect(png.length).toBeGreaterThan(20_000);
        if (process.env.UPDATE_DOCS)
          await fs.copyFile(shot, path.resolve(import.meta.dirname, '../../docs/immune-dashboard.png'));
      } finally {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
    },
    60_000,
  );
});
