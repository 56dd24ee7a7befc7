/**
 * Secrets typed into prompts or answered by a model never reach a sink raw: state files, the
 * stderr log, tool results, Langfuse traces, exports, the dashboard and alert webhooks. The
 * provider is the loopback fake through the real OpenAI SDK; Langfuse and the webhook are loopback
 * receivers.
 */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promises as fs } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedactor } from '../../src/safety/redact.js';
import { renderHtml } from '../../src/desk/dashboard/render.js';
import { buildDashboard } from '../../src/desk/dashboard/data.js';
import { startFakeLlmServer } from '../fakes/fakeLlmServer.js';
import type { FakeLlmServer } from '../fakes/fakeLlmServer.js';
import { allFiles, sc, startHarness, textOf } from '../helpers/harness.js';

// Shapes of real credentials (made up): each must disappear everywhere.
const SECRETS = {
  openai: 'sk-proj-Zx81KQm2pLw9Tr4Vb7Ny3Hc6Jd0Fg5Se1Ua',
  anthropic: 'sk-ant-api03-Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0LzXcVb',
  google: 'AIzaSyD4fake9key8for7tests6only5abcdEFG',
  github: 'ghp_abcdefghijklmnopqrstuvwxyz0123456789',
  slack: 'xoxb-1234567890-abcdefghijkl',
  aws: 'AKIAIOSFODNN7EXAMPLE',
  jwt: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXZhbHVlLWhlcmU',
  bearer: 'Bearer abcdefghijklmnop1234567890',
  url: 'postgres://admin:hunter2hunter2@db.example.com/app',
  configured: 'my-own-configured-secret-value',
  npm: 'npm_Zx81KQm2pLw9Tr4Vb7Ny3Hc6Jd0Fg5Se1UaQw',
  gitlab: 'glpat-Qw8Er7Ty6Ui5Op4As3Df',
  stripe: 'sk_live_51HfAkeKeyForTests0nly9x',
  huggingface: 'hf_QwErTyUiOpAsDfGhJkLzXcVbNm123456',
  named: 'MYTOKEN=Zx81KQm2pLw9Tr4Vb7Ny3',
  json: '"db_password": "p4ss-W0rd-9x8c7v6b"',
};
const PEM = '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAfakefakefake\n-----END RSA PRIVATE KEY-----';
const RAW = [
  ...Object.entries(SECRETS)
    .filter(([k]) => k !== 'named' && k !== 'json')
    .map(([, s]) => (s.startsWith('Bearer ') ? s.slice(7) : s)),
  'Zx81KQm2pLw9Tr4Vb7Ny3',
  'p4ss-W0rd-9x8c7v6b',
  'hunter2hunter2',
  'MIIEowIBAAKCAQEAfakefakefake',
];

let fake: FakeLlmServer;
let receiver: Server;
let receiverUrl: string;
const received: string[] = [];

beforeAll(async () => {
  fake = await startFakeLlmServer();
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push(Buffer.concat(chunks).toString('utf8'));
      if (req.url === '/api/public/ingestion') {
        const body = JSON.parse(received.at(-1)!) as { batch: Array<{ id: string }> };
        res
          .writeHead(207, { 'content-type': 'application/json' })
          .end(JSON.stringify({ successes: body.batch.map((e) => ({ id: e.id, status: 201 })), errors: [] }));
      } else res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => receiver.close(r));
  await fake.close();
});

const leaks = (text: string) => RAW.filter((s) => text.includes(s));

describe('secret redaction', () => {
  it('removes each credential shape, configured values and URL passwords, and leaves plain text alone', () => {
    const redact = createRedactor({ secrets: [SECRETS.configured], patterns: [/internal-\d+/] });
    const text = `${Object.values(SECRETS).join(' ')}\n${PEM}\ninternal-42 and a plain sentence about sk-learn.`;
    const out = redact(text);
    expect(leaks(out)).toEqual([]);
    expect(out).toContain('postgres://admin:[REDACTED]@db.example.com/app');
    expect(out).toContain('[REDACTED] and a plain sentence about sk-learn.');
    // The names stay (what was there is still readable); short or word-like values stay too.
    expect(out).toContain('MYTOKEN=[REDACTED]');
    expect(out).toContain('"db_password": "[REDACTED]"');
    expect(redact('MAX_TOKENS=4096 and the key: value pair; password=hunter2')).toBe(
      'MAX_TOKENS=4096 and the key: value pair; password=hunter2',
    );
  });

  it('keeps secrets out of state files, logs, results, traces, exports, the dashboard and webhooks', async () => {
    const h = await startHarness({
      env: {
        OPENAI_API_KEY: 'sk-fake-provider-key',
        OPENAI_BASE_URL: `${fake.url}/v1`,
        TASK_ORCHESTRATOR_RETRY_BASE_MS: '5',
        TASK_ORCHESTRATOR_TOOLS: 'all',
        LANGFUSE_PUBLIC_KEY: 'pk-lf-test',
        LANGFUSE_SECRET_KEY: 'sk-lf-test-secret',
        LANGFUSE_HOST: receiverUrl,
        TASK_ORCHESTRATOR_ALERT_WEBHOOK_URL: `${receiverUrl}/hook`,
        TASK_ORCHESTRATOR_ALERT_NOTIFY: 'info',
        MY_SERVICE_TOKEN: SECRETS.configured,
      },
    });
    try {
      const prompt = `Deploy with these: ${Object.values(SECRETS).join(' ')}`;
      // A failing answer (empty) so the failure memory and the alerts learn from it too.
      fake.script({ text: '' }, { text: `Here is the key again: ${SECRETS.jwt}\n${PEM}` });
      const failed = await h.call('spawn_agent', { prompt });
      const passed = await h.call('spawn_agent', { prompt: `${prompt} (again)` });
      const results = [
        textOf(failed),
        JSON.stringify(failed.structuredContent),
        textOf(passed),
        JSON.stringify(passed.structuredContent),
      ];
      const list = await h.call('trials_list', {});
      results.push(JSON.stringify(list.structuredContent), textOf(list));
      for (const t of (list.structuredContent as { trials: Array<{ id: string }> }).trials)
        results.push(JSON.stringify((await h.call('trial_get', { trial_id: t.id })).structuredContent));
      results.push(JSON.stringify((await h.call('immune_failures', {})).structuredContent));
      results.push(JSON.stringify((await h.call('alert_list', {})).structuredContent));
      const exported = sc<{ file: string }>(await h.call('export_training_data', { format: 'full' }));
      results.push(await fs.readFile(exported.file, 'utf8'));
      results.push(renderHtml(await buildDashboard(h.services, 14)));
      await h.services.tracer.flush();
      await h.services.alerts.idle();
      await h.services.storage.close().catch(() => {});
      expect(received.length).toBeGreaterThan(0);
      const sinks: Record<string, string> = {
        results: results.join('\n'),
        logs: JSON.stringify(h.logs),
        langfuse_and_webhooks: received.join('\n'),
      };
      for (const file of await allFiles(h.stateDir)) sinks[file] = await fs.readFile(file, 'utf8');
      const leaked = Object.entries(sinks)
        .map(([sink, text]) => ({ sink, leaks: leaks(text) }))
        .filter((x) => x.leaks.length > 0);
      expect(leaked).toEqual([]);
      // The redaction left the rest readable.
      expect(sinks.results).toContain('Deploy with these: [REDACTED]');
    } finally {
      await h.close().catch(() => {});
    }
  });
});
