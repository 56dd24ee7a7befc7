/** Langfuse tracing through the real SDK against a loopback receiver of the ingestion API. */
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlmServer } from '../fakes/fakeLlmServer.js';
import type { FakeLlmServer } from '../fakes/fakeLlmServer.js';
import { sc, startHarness } from '../helpers/harness.js';

interface Ingested {
  authorization: string | undefined;
  events: Array<{ type: string; body: Record<string, unknown> }>;
}

let receiver: Server;
let receiverUrl: string;
const batches: Ingested[] = [];
let fake: FakeLlmServer;

beforeAll(async () => {
  fake = await startFakeLlmServer();
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/api/public/ingestion') {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { batch: Ingested['events'] };
        batches.push({ authorization: req.headers.authorization, events: body.batch });
        res.writeHead(207, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            successes: body.batch.map((e) => ({ id: (e as { id?: string }).id, status: 201 })),
            errors: [],
          }),
        );
      } else {
        res.writeHead(404).end();
      }
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => receiver.close(r));
  await fake.close();
});

describe('Langfuse tracing', () => {
  it('sends a trace with its generation and one score per grader, with the keys as basic auth', async () => {
    const h = await startHarness({
      env: {
        OPENAI_API_KEY: 'sk-trace',
        OPENAI_BASE_URL: `${fake.url}/v1`,
        LANGFUSE_PUBLIC_KEY: 'pk-lf-test',
        LANGFUSE_SECRET_KEY: 'sk-lf-test',
        LANGFUSE_HOST: receiverUrl,
        TASK_ORCHESTRATOR_TOOLS: 'eval',
      },
    });
    fake.script({ text: 'Traced answer.', usage: { input: 21, output: 5 } });
    const r = sc<{ trial_id: string }>(await h.call('spawn_agent', { prompt: 'Trace me.' }));
    await h.services.tracer.flush();
    const events = batches.flatMap((b) => b.events);
    const trace = events.find((e) => e.type === 'trace-create')!;
    expect(trace.body).toMatchObject({
      name: 'spawn_agent',
      userId: 'test-client/1.0.0',
      output: 'Traced answer.',
    });
    const generation = events.find((e) => e.type === 'generation-create')!;
    expect(generation.body).toMatchObject({
      traceId: trace.body.id,
      model: 'gpt-4o-mini',
      usageDetails: { input: 21, output: 5 },
    });
    const scores = events.filter((e) => e.type === 'score-create').map((e) => e.body.name);
    expect(scores.sort()).toEqual(['eval/overall', 'length', 'non_empty', 'refusal']);
    expect(batches[0]?.authorization).toBe(
      `Basic ${Buffer.from('pk-lf-test:sk-lf-test').toString('base64')}`,
    );
    const trial = sc<{ trial: { trace_id: string } }>(await h.call('trial_get', { trial_id: r.trial_id }));
    expect(trial.trial.trace_id).toBe(trace.body.id);
    await h.services.tracer.shutdown();
    await h.close();
  });

  it('sends nothing and fails nothing without keys', async () => {
    const before = batches.length;
    const h = await startHarness({
      env: { OPENAI_API_KEY: 'sk-trace', OPENAI_BASE_URL: `${fake.url}/v1`, TASK_ORCHESTRATOR_TOOLS: 'eval' },
    });
    expect(h.services.tracer.enabled).toBe(false);
    const r = sc<{ trial_id: string }>(await h.call('spawn_agent', { prompt: 'No trace.' }));
    await h.services.tracer.flush();
    expect(batches.length).toBe(before);
    const trial = sc<{ trial: { trace_id?: string } }>(await h.call('trial_get', { trial_id: r.trial_id }));
    expect(trial.trial.trace_id).toBeUndefined();
    await h.close();
  });
});
