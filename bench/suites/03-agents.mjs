/**
 * Issue 4 benchmarks: parallel agents against a fake provider with fixed latency, and the
 * fail-fast latency of a call whose breaker is open, against the echo baseline.
 */
import { median, percentile, root, startEcho, startOrchestrator, timeCalls } from '../lib.mjs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const { startFakeLlmServer } = await import(
  pathToFileURL(path.join(root, 'dist-test', 'fakes', 'fakeLlmServer.js')).href
);

export default {
  name: 'agents',
  title: 'Agents: parallel spawning and fail-fast breakers',
  async run() {
    const fake = await startFakeLlmServer();
    const env = {
      OPENAI_API_KEY: 'sk-bench',
      OPENAI_BASE_URL: `${fake.url}/v1`,
      TASK_ORCHESTRATOR_TOOLS: 'agent',
      // The agents alone (09-judges measures what the default judges add).
      TASK_ORCHESTRATOR_JUDGE_GRADERS: 'off',
    };
    const rows = [];

    // 32 prompts, 300 ms each, 8 at a time: ideally 4 rounds = 1200 ms.
    const server = await startOrchestrator(env);
    const walls = [];
    for (let run = 0; run < 3; run++) {
      fake.reset();
      fake.script(...Array.from({ length: 32 }, () => ({ text: 'done', delayMs: 300 })));
      const t0 = performance.now();
      const r = await server.client.callTool({
        name: 'spawn_parallel_agents',
        arguments: { prompts: Array.from({ length: 32 }, (_, i) => `prompt ${i}`), concurrency: 8 },
      });
      walls.push(performance.now() - t0);
      if (r.isError || r.structuredContent.succeeded !== 32)
        throw new Error(`parallel run failed: ${JSON.stringify(r.content)}`);
    }
    await server.close();
    const wall = median(walls);
    rows.push({
      metric: 'spawn_parallel_agents, 32 prompts x 300 ms at concurrency 8, wall (median of 3)',
      value: wall,
      unit: 'ms',
    });
    rows.push({
      metric: 'wall time / ideal 4 x 300 ms',
      value: wall / 1200,
      unit: 'x',
      target: '<= 1.25',
      pass: wall / 1200 <= 1.25,
    });

    // Fail fast: open the breaker with 3 failures (no retries), then time calls it rejects.
    fake.reset();
    const failing = await startOrchestrator({ ...env, TASK_ORCHESTRATOR_RETRY_MAX: '0' });
    fake.script({ status: 500 }, { status: 500 }, { status: 500 });
    for (let i = 0; i < 3; i++)
      await failing.client.callTool({
        name: 'spawn_agent',
        arguments: { prompt: 'x', options: { fallback: false } },
      });
    const before = fake.requests.length;
    const echo = await startEcho();
    const fast = [];
    const base = [];
    for (let block = 0; block < 10; block++) {
      for (let i = 0; i < (block === 0 ? 120 : 100); i++) {
        const t = performance.now();
        const r = await failing.client.callTool({
          name: 'spawn_agent',
          arguments: { prompt: 'x', options: { fallback: false } },
        });
        if (block > 0 || i >= 20) fast.push(performance.now() - t);
        if (!r.isError || !/breaker_open/.test(r.content[0].text))
          throw new Error(`expected a fail-fast refusal: ${r.content[0].text}`);
      }
      base.push(...(await timeCalls(echo.client, 'echo', { text: 'hello' }, 100, block === 0 ? 20 : 0)));
    }
    const reached = fake.requests.length - before;
    await failing.close();
    await echo.close();
    await fake.close();
    const p50 = percentile(fast, 50);
    rows.push({
      metric: 'spawn_agent with the breaker open, p50 / p99 (1000 calls)',
      value: `${p50.toFixed(3)} / ${percentile(fast, 99).toFixed(3)}`,
      unit: 'ms',
    });
    rows.push({ metric: 'echo p50 (same run)', value: percentile(base, 50), unit: 'ms' });
    rows.push({ metric: 'fail-fast p50 ratio to echo', value: p50 / percentile(base, 50), unit: 'x' });
    rows.push({
      metric: 'provider requests made while the breaker was open',
      value: reached,
      target: '0',
      pass: reached === 0,
    });
    return {
      rows,
      notes: [
        'The fake provider answers each call after 300 ms; the parallel run goes through budget reservation, breaker, provider SDK and usage logging for every agent.',
        'With the breaker open a call still reserves and releases its budget and logs nothing to the provider; the refusal comes back as isError with the breaker state.',
      ],
    };
  },
};
