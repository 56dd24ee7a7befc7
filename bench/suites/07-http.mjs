/**
 * Issue 9 benchmark (HTTP mode): a cheap tool over Streamable HTTP against the same tool over
 * stdio (interleaved, one run), then 8 clients with their own tokens adding tasks concurrently for
 * 30 s: no errors, and every acknowledged task is in the list afterwards.
 */
import { spawn } from 'node:child_process';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SignJWT } from 'jose';
import { cliPath, percentile, startOrchestrator, tempDir, timeInterleaved } from '../lib.mjs';

const SECRET = 'bench-secret-0123456789abcdef0123456789abcdef';
const DURATION_MS = 30_000;

async function token(sub) {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuer('task-orchestrator')
    .setAudience('task-orchestrator')
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(SECRET));
}

async function startHttp(stateDir) {
  const child = spawn(process.execPath, [cliPath, 'serve', '--http', '--port', '0'], {
    cwd: stateDir,
    env: {
      PATH: process.env.PATH ?? '',
      JWT_SECRET_KEY: SECRET,
      TASK_ORCHESTRATOR_HOME: stateDir,
      TASK_ORCHESTRATOR_LOG_LEVEL: 'warn',
      TASK_ORCHESTRATOR_CLAUDE_CLI: 'off',
      TASK_ORCHESTRATOR_HTTP_RATE: '1000000',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const url = await new Promise((resolve, reject) => {
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
      const m = /MCP over HTTP at (http:\/\/\S+)/.exec(err);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`http server exited ${code}: ${err}`)));
  });
  return { child, url };
}

async function httpClient(url, sub) {
  const client = new Client({ name: `bench-${sub}`, version: '1' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      requestInit: { headers: { authorization: `Bearer ${await token(sub)}` } },
    }),
  );
  return client;
}

export default {
  name: 'http',
  title: 'HTTP mode: latency and concurrent clients',
  async run() {
    const rows = [];
    const state = tempDir('to-bench-http-');
    const stdio = await startOrchestrator();
    const server = await startHttp(state.dir);
    try {
      const overHttp = await httpClient(server.url, 'latency');
      const t = await timeInterleaved(
        { client: overHttp, name: 'healing_status', args: {} },
        { client: stdio.client, name: 'healing_status', args: {} },
        { blocks: 10, perBlock: 100 },
      );
      const hp50 = percentile(t.a, 50);
      const sp50 = percentile(t.b, 50);
      rows.push({
        metric: 'healing_status over HTTP p50 / p99',
        value: `${hp50.toFixed(2)} / ${percentile(t.a, 99).toFixed(2)}`,
        unit: 'ms',
      });
      rows.push({
        metric: 'healing_status over stdio p50 / p99',
        value: `${sp50.toFixed(2)} / ${percentile(t.b, 99).toFixed(2)}`,
        unit: 'ms',
      });
      rows.push({ metric: 'HTTP / stdio p50 ratio (same run, interleaved)', value: hp50 / sp50, unit: 'x' });
      await overHttp.close();

      // 8 clients, each its own subject, adding tasks as fast as they can for 30 s.
      const clients = await Promise.all(
        Array.from({ length: 8 }, (_, i) => httpClient(server.url, `worker-${i}`)),
      );
      const acknowledged = new Set();
      let errors = 0;
      let calls = 0;
      const latencies = [];
      const until = performance.now() + DURATION_MS;
      await Promise.all(
        clients.map(async (c, i) => {
          let n = 0;
          while (performance.now() < until) {
            const title = `w${i}-${n++}`;
            const t0 = performance.now();
            try {
              const r = await c.callTool({ name: 'tasks_add', arguments: { tasks: [{ title }] } });
              calls++;
              latencies.push(performance.now() - t0);
              if (r.isError) errors++;
              else acknowledged.add(title);
            } catch {
              errors++;
            }
          }
        }),
      );
      const check = clients[0];
      const titles = new Set();
      let cursor;
      do {
        const page = await check.callTool({
          name: 'tasks_list',
          arguments: { limit: 100, ...(cursor ? { cursor } : {}) },
        });
        for (const task of page.structuredContent.tasks) titles.add(task.title);
        cursor = page.structuredContent.next_cursor;
      } while (cursor);
      const lost = [...acknowledged].filter((x) => !titles.has(x)).length;
      rows.push({ metric: '8 clients x 30 s tasks_add: calls', value: calls });
      rows.push({
        metric: '8 clients x 30 s: throughput',
        value: calls / (DURATION_MS / 1000),
        unit: 'calls/s',
      });
      rows.push({
        metric: '8 clients x 30 s: tasks_add p50 / p99',
        value: `${percentile(latencies, 50).toFixed(1)} / ${percentile(latencies, 99).toFixed(1)}`,
        unit: 'ms',
      });
      rows.push({ metric: '8 clients x 30 s: errors', value: errors, target: '0', pass: errors === 0 });
      rows.push({
        metric: '8 clients x 30 s: acknowledged tasks missing from the list',
        value: lost,
        target: '0',
        pass: lost === 0,
      });
      await Promise.all(clients.map((c) => c.close()));
    } finally {
      server.child.kill('SIGTERM');
      await new Promise((resolve) => server.child.on('exit', resolve));
      await stdio.close();
      state.remove();
    }
    return {
      rows,
      notes: [
        'Both servers are the built CLI as child processes; the HTTP client is the SDK StreamableHTTPClientTransport with a bearer token; the rate limit is raised for the load run (the default is 600 requests per minute per subject).',
        'The load run uses one session per subject; every tasks_add is durable before it is acknowledged, and the list is read back page by page afterwards.',
      ],
    };
  },
};
