/**
 * Alerting through MCP: the four rules on real spawns, cooldown merging, listing and clearing,
 * and the notifiers against loopback receivers (webhook signature verified, Slack Block Kit shape,
 * a failing receiver retried and never breaking the spawn).
 */
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { useFakeLlm } from '../helpers/fakeLlm.js';
import { sc, startWithFakeProvider, textOf } from '../helpers/harness.js';
import type { Harness } from '../helpers/harness.js';

interface Alert {
  id: string;
  rule: string;
  severity: string;
  count: number;
  details: Record<string, unknown>;
  deliveries: Array<{ channel: string; ok: boolean; attempts: number; status?: number }>;
}

const PROMPTS = [
  'Write the release notes for version two of the billing service',
  'Summarise the incident report about the payment outage',
  'Translate the onboarding guide into German for new hires',
  'Draft the migration plan for the search cluster upgrade',
];

let h: Harness | undefined;
const llm = useFakeLlm();
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function alerts(args: Record<string, unknown> = {}): Promise<Alert[]> {
  await h!.services.alerts.idle();
  return sc<{ alerts: Alert[] }>(await h!.call('alert_list', args)).alerts;
}

interface Received {
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

async function receiver(status: () => number) {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(status()).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('alert rules', () => {
  it('raises ConsecutiveFailures and NewPatternDetected, merges repeats in the cooldown, and a pass resets the streak', async () => {
    h = await startWithFakeProvider(llm.fake.url, { TASK_ORCHESTRATOR_TOOLS: 'immune' });
    llm.fake.script({ text: '' }, { text: '' }, { text: 'A fine answer.' }, { text: '' });
    for (const p of PROMPTS.slice(0, 2)) await h.call('spawn_agent', { prompt: p });
    await h.call('spawn_agent', { prompt: 'Explain the caching layer in two sentences' });
    await h.call('spawn_agent', { prompt: PROMPTS[2]! });
    // fail, fail, pass, fail: never three in a row.
    expect((await alerts()).filter((a) => a.rule === 'ConsecutiveFailures')).toEqual([]);
    expect((await alerts()).filter((a) => a.rule === 'NewPatternDetected')).toHaveLength(3);

    llm.fake.script({ text: '' }, { text: '' }, { text: '' });
    await h.call('spawn_agent', { prompt: PROMPTS[3]! });
    await h.call('spawn_agent', { prompt: 'Describe the audit log retention policy' });
    let consecutive = (await alerts()).filter((a) => a.rule === 'ConsecutiveFailures');
    expect(consecutive).toEqual([
      expect.objectContaining({
        severity: 'warning',
        count: 1,
        details: expect.objectContaining({ consecutive: 3 }) as unknown,
      }),
    ]);
    await h.call('spawn_agent', { prompt: 'List the feature flags enabled in staging' });
    consecutive = (await alerts()).filter((a) => a.rule === 'ConsecutiveFailures');
    expect(consecutive).toHaveLength(1);
    expect(consecutive[0]).toMatchObject({ count: 2, details: { consecutive: 4 } });
    // severity filter: info alerts are left out when asking for warnings and up.
    const warnings = await alerts({ severity: 'warning' });
    expect(warnings.length).toBeGreaterThan(0); // .every on an empty list would prove nothing
    expect(warnings.every((a) => a.severity !== 'info')).toBe(true);
  });

  it('notifies again when a merged repeat escalates to critical', async () => {
    const hook = await receiver(() => 200);
    try {
      h = await startWithFakeProvider(llm.fake.url, {
        TASK_ORCHESTRATOR_TOOLS: 'immune',
        TASK_ORCHESTRATOR_ALERT_WEBHOOK_URL: hook.url,
        TASK_ORCHESTRATOR_ALERT_CONSECUTIVE: '2',
      });
      const prompts = [
        'Write the release notes for version two of the billing service',
        'Translate the onboarding guide into German for new hires',
        'Draft the migration plan for the search cluster upgrade',
        'Describe the audit log retention policy for auditors',
      ];
      llm.fake.script(...prompts.map(() => ({ text: '' })));
      for (const prompt of prompts) await h.call('spawn_agent', { prompt });
      const consecutive = (await alerts()).filter((a) => a.rule === 'ConsecutiveFailures');
      // One alert (merged), now critical; the webhook heard of it twice: warning, then the escalation.
      expect(consecutive).toEqual([expect.objectContaining({ severity: 'critical', count: 3 })]);
      const notices = hook.received
        .map((r) => JSON.parse(r.body) as { alert: { rule: string; severity: string } })
        .filter((b) => b.alert.rule === 'ConsecutiveFailures')
        .map((b) => b.alert.severity);
      expect(notices).toEqual(['warning', 'critical']);
    } finally {
      await hook.close();
    }
  });

  it('raises FrequencySpike and a critical HighRiskThreshold for a blocked prompt; clears one or all', async () => {
    h = await startWithFakeProvider(llm.fake.url, {
      TASK_ORCHESTRATOR_TOOLS: 'immune',
      TASK_ORCHESTRATOR_ALERT_SPIKE: '2',
    });
    llm.fake.script({ text: '' }, { text: '' }, { text: '' });
    await h.call('spawn_agent', { prompt: PROMPTS[0]! });
    await h.call('spawn_agent', { prompt: PROMPTS[0]! });
    await h.call('spawn_agent', { prompt: PROMPTS[1]! });
    const blocked = await h.call('spawn_agent', { prompt: PROMPTS[0]! });
    expect(textOf(blocked)).toMatch(/IMMUNE_BLOCKED/);
    const all = await alerts();
    expect(all.find((a) => a.rule === 'FrequencySpike')).toMatchObject({ severity: 'warning' });
    expect(all.find((a) => a.rule === 'HighRiskThreshold' && a.severity === 'critical')).toMatchObject({
      details: expect.objectContaining({ blocked: true }) as unknown,
    });
    const spike = all.find((a) => a.rule === 'FrequencySpike')!;
    expect(sc<{ cleared: number }>(await h.call('alert_clear', { id: spike.id })).cleared).toBe(1);
    expect((await alerts()).some((a) => a.id === spike.id)).toBe(false);
    expect((await alerts({ include_cleared: true })).some((a) => a.id === spike.id)).toBe(true);
    const again = await h.call('alert_clear', { id: spike.id });
    expect(textOf(again)).toMatch(/No active alert.*alert_list/);
    expect(textOf(await h.call('alert_clear', {}))).toMatch(/either id or all: true/);
    expect(sc<{ cleared: number }>(await h.call('alert_clear', { all: true })).cleared).toBe(all.length - 1);
    expect(await alerts()).toEqual([]);
    const dashboard = sc<{ alerts: { total: number } }>(await h.call('immune_dashboard', { format: 'json' }));
    expect(dashboard.alerts.total).toBe(0);
  });
});

describe('notifiers', () => {
  it('signs webhook bodies with HMAC-SHA256 and posts Block Kit to Slack; deliveries are recorded', async () => {
    const hook = await receiver(() => 200);
    const slack = await receiver(() => 200);
    h = await startWithFakeProvider(llm.fake.url, {
      TASK_ORCHESTRATOR_TOOLS: 'immune',
      TASK_ORCHESTRATOR_ALERT_CONSECUTIVE: '1',
      TASK_ORCHESTRATOR_ALERT_WEBHOOK_URL: hook.url,
      TASK_ORCHESTRATOR_ALERT_WEBHOOK_SECRET: 'whsec-test-secret',
      TASK_ORCHESTRATOR_ALERT_SLACK_URL: slack.url,
      TASK_ORCHESTRATOR_PROJECT: 'alerts-test',
    });
    llm.fake.script({ text: '' });
    await h.call('spawn_agent', { prompt: PROMPTS[0]! });
    const list = await alerts();
    const alert = list.find((a) => a.rule === 'ConsecutiveFailures')!;
    // Notified: warning and up (the NewPatternDetected info alert is not sent).
    expect(hook.received).toHaveLength(1);
    const got = hook.received[0]!;
    const expected = `sha256=${createHmac('sha256', 'whsec-test-secret').update(got.body).digest('hex')}`;
    expect(got.headers['x-task-orchestrator-signature']).toBe(expected);
    expect(JSON.parse(got.body)).toMatchObject({
      source: 'task-orchestrator',
      project: 'alerts-test',
      alert: { id: alert.id, rule: 'ConsecutiveFailures' },
    });
    const message = JSON.parse(slack.received[0]!.body) as {
      text: string;
      blocks: Array<{ type: string; text?: { type: string }; fields?: unknown[]; elements?: unknown[] }>;
    };
    expect(message.text).toMatch(/^WARNING: Consecutive failures/);
    expect(message.blocks.map((b) => b.type)).toEqual(['header', 'section', 'section', 'context']);
    expect(message.blocks[0]!.text!.type).toBe('plain_text');
    expect(message.blocks[2]!.fields!.length).toBeGreaterThan(0);
    expect(alert.deliveries.map((d) => [d.channel, d.ok, d.status])).toEqual(
      expect.arrayContaining([
        ['console', true, undefined],
        ['webhook', true, 200],
        ['slack', true, 200],
      ]),
    );
    // The secret never shows up in logs.
    expect(JSON.stringify(h.logs)).not.toContain('whsec-test-secret');
    await hook.close();
    await slack.close();
  });

  it('retries a failing receiver with backoff, records the failure, and the spawn is unaffected', async () => {
    const hook = await receiver(() => 503);
    h = await startWithFakeProvider(llm.fake.url, {
      TASK_ORCHESTRATOR_TOOLS: 'immune',
      TASK_ORCHESTRATOR_ALERT_CONSECUTIVE: '1',
      TASK_ORCHESTRATOR_ALERT_WEBHOOK_URL: hook.url,
    });
    llm.fake.script({ text: '' });
    const spawn = await h.call('spawn_agent', { prompt: PROMPTS[1]! });
    expect(spawn.isError).toBeFalsy();
    const alert = (await alerts()).find((a) => a.rule === 'ConsecutiveFailures')!;
    expect(hook.received).toHaveLength(4);
    expect(hook.received[0]!.headers['x-task-orchestrator-signature']).toBeUndefined();
    expect(alert.deliveries.find((d) => d.channel === 'webhook')).toMatchObject({
      ok: false,
      attempts: 4,
      status: 503,
    });
    await hook.close();
  });
});
