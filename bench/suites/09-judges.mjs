/**
 * Issue 19: what the default judges cost. The same 16 spawns (spawn_parallel_agents) with the
 * default judges and with TASK_ORCHESTRATOR_JUDGE_GRADERS=off, at concurrency 1 and 8; the fake
 * provider answers every call (agent or judge) after 100 ms. Latency per spawn and cost (agents +
 * judges, from healing_status) are compared as ratios within one run.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { median, root, startOrchestrator } from '../lib.mjs';

const { startFakeLlmServer } = await import(
  pathToFileURL(path.join(root, 'dist-test', 'fakes', 'fakeLlmServer.js')).href
);

const SPAWNS = 16;
const DELAY_MS = 100;

export default {
  name: 'judges',
  title: 'Judges on by default: latency and cost of a default spawn with and without them',
  async run() {
    const fake = await startFakeLlmServer();
    fake.respond((prompt) =>
      prompt.includes('You are a strict evaluator')
        ? { text: '{"score": 0.9, "reason": "addresses the request"}', delayMs: DELAY_MS }
        : { text: 'Here is a short, relevant answer to the request.', delayMs: DELAY_MS },
    );
    const measure = async (judges, concurrency) => {
      const server = await startOrchestrator({
        OPENAI_API_KEY: 'sk-bench',
        OPENAI_BASE_URL: `${fake.url}/v1`,
        GEMINI_API_KEY: 'gm-bench',
        GEMINI_BASE_URL: fake.url,
        GEMINI_MODEL: 'gemini-2.5-flash-lite',
        TASK_ORCHESTRATOR_TOOLS: 'agent',
        TASK_ORCHESTRATOR_CLAUDE_CLI: 'off',
        TASK_ORCHESTRATOR_JUDGE_GRADERS: judges,
      });
      const walls = [];
      for (let run = 0; run < 3; run++) {
        const t0 = performance.now();
        const r = await server.client.callTool({
          name: 'spawn_parallel_agents',
          arguments: {
            prompts: Array.from({ length: SPAWNS }, (_, i) => `Explain item ${run}-${i} in one sentence.`),
            concurrency,
          },
        });
        walls.push(performance.now() - t0);
        if (r.isError || r.structuredContent.succeeded !== SPAWNS)
          throw new Error(`parallel run failed: ${JSON.stringify(r.content)}`);
      }
      const status = await server.client.callTool({ name: 'healing_status', arguments: {} });
      const spend = status.structuredContent.spend_24h;
      await server.close();
      const spawns = 3 * SPAWNS;
      return {
        // Per spawn: the batch's wall time times the concurrency over the spawns in it.
        latency: (median(walls) * concurrency) / SPAWNS,
        cost: (spend.agents.cost_usd + spend.judges.cost_usd) / spawns,
        judgeCalls: spend.judges.calls / spawns,
      };
    };
    const rows = [];
    for (const concurrency of [1, 8]) {
      const off = await measure('off', concurrency);
      const on = await measure('auto', concurrency);
      rows.push(
        {
          metric: `concurrency ${concurrency}: latency per spawn without / with judges`,
          value: `${off.latency.toFixed(0)} / ${on.latency.toFixed(0)}`,
          unit: 'ms',
        },
        {
          metric: `concurrency ${concurrency}: latency ratio with / without judges`,
          value: on.latency / off.latency,
          unit: 'x',
          target: '<= 2.3 (one judge call of the same 100 ms after the agent)',
          pass: on.latency / off.latency <= 2.3,
        },
        {
          metric: `concurrency ${concurrency}: cost per spawn without / with judges`,
          value: `${off.cost.toFixed(6)} / ${on.cost.toFixed(6)}`,
          unit: 'USD',
        },
        {
          metric: `concurrency ${concurrency}: cost ratio with / without judges`,
          value: on.cost / off.cost,
          unit: 'x',
        },
        {
          metric: `concurrency ${concurrency}: judge calls per default spawn`,
          value: on.judgeCalls,
          target: '1 (relevance; no schema, no code)',
          pass: on.judgeCalls === 1,
        },
      );
    }
    await fake.close();
    return {
      rows,
      notes: [
        'Two providers at the fake, each with a fast-tier model: Gemini flash-lite answers (first in the fallback order) and the judge runs on OpenAI gpt-4o-mini, the cheapest fast-tier model other than the judged one. The judge prompt carries the rubric, the request and the answer, so it costs more tokens than a short answer.',
        'Judges run after the answer they grade, so a default spawn takes about two provider round trips; the agents of a parallel run overlap their judges.',
      ],
    };
  },
};
