/**
 * Issue 17: a supervisor run's schedule against the ideal one. A 20-node graph with a known
 * critical path (a chain of 6 data-dependent nodes beside 14 independent ones) runs at
 * concurrency 4 on one onboarded worker; the fake provider answers every worker and synthesis
 * call after 300 ms. The ideal schedule is max(chain, ceil(nodes / concurrency)) calls plus the
 * synthesis: 7 x 300 ms. Wall time is measured from the tasks_run call to its return (it waits
 * for the end), five times on fresh state folders (the median counts).
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { median, root, startOrchestrator } from '../lib.mjs';

const { startFakeLlmServer } = await import(
  pathToFileURL(path.join(root, 'dist-test', 'fakes', 'fakeLlmServer.js')).href
);
const { isSynthesis, isWorkerCall, team, titleOf } = await import(
  pathToFileURL(path.join(root, 'dist-test', 'fakes', 'team.js')).href
);

const CALL_MS = 300;
const CHAIN = 6;
const NODES = 20;
const CONCURRENCY = 4;
const ROUNDS = 5;
/** A judge that takes a third of a worker call. */
const JUDGE_MS = 100;

export default {
  name: 'runs',
  title: 'Supervisor runs: wall time of a 20-node graph against the ideal schedule',
  async run() {
    const fake = await startFakeLlmServer();
    const answer = team({
      worker: (prompt) => ({ text: `Done: ${titleOf(prompt)}`, delayMs: CALL_MS }),
      synthesis: () => 'All twenty parts are done.',
    });
    // The synthesis is answered after the same delay as the workers.
    // Worker calls in flight at once (each lasts CALL_MS): never above the concurrency.
    let open = 0;
    let most = 0;
    fake.respond((prompt, wire, model) => {
      const step = answer(prompt, wire, model);
      if (isSynthesis(prompt)) return { ...step, delayMs: CALL_MS };
      // The judge (relevance, by default) answers at once: the rows measure what judging adds
      // to the schedule, not a judge model's latency.
      if (prompt.startsWith('You are a strict evaluator'))
        return { text: '{"score": 0.9, "reason": "answers the task"}', delayMs: judgeMs };
      if (!isWorkerCall(prompt)) return step;
      most = Math.max(most, ++open);
      setTimeout(() => open--, CALL_MS);
      return step;
    });
    let judgeMs = 0;
    const measure = async (judges, judgeDelay = 0) => {
      judgeMs = judgeDelay;
      const walls = [];
      for (let round = 0; round < ROUNDS; round++) {
        const server = await startOrchestrator({
          OPENAI_API_KEY: 'sk-bench',
          OPENAI_BASE_URL: `${fake.url}/v1`,
          TASK_ORCHESTRATOR_TOOLS: 'task,run,agent',
          TASK_ORCHESTRATOR_CLAUDE_CLI: 'off',
          ...(judges ? {} : { TASK_ORCHESTRATOR_JUDGE_GRADERS: 'off' }),
        });
        const call = async (name, args) => {
          const r = await server.client.callTool({ name, arguments: args }, undefined, { timeout: 120_000 });
          if (r.isError) throw new Error(`${name} failed: ${JSON.stringify(r.content)}`);
          return r.structuredContent;
        };
        await call('worker_interview', { provider: 'openai', model: 'gpt-4o-mini' });
        const tasks = [{ ref: 'root', title: `Twenty parts, round ${round}` }];
        for (let i = 0; i < CHAIN; i++)
          tasks.push({
            ref: `c${i}`,
            title: `Chain step ${i + 1}`,
            parent: 'root',
            ...(i > 0 ? { depends_on: [{ task: `c${i - 1}`, kind: 'data' }] } : {}),
          });
        for (let i = 0; i < NODES - CHAIN; i++)
          tasks.push({ ref: `f${i}`, title: `Free part ${i + 1}`, parent: 'root' });
        // Independent nodes first in creation order: a naive scheduler would start the chain late.
        const ordered = [tasks[0], ...tasks.slice(1 + CHAIN), ...tasks.slice(1, 1 + CHAIN)];
        const added = await call('tasks_add', { tasks: ordered });
        const rootId = added.added[0].task.id;
        const before = fake.requests.length;
        const t0 = performance.now();
        const out = await call('tasks_run', {
          root: rootId,
          dry_run: false,
          concurrency: CONCURRENCY,
          wait_s: 120,
        });
        const wall = performance.now() - t0;
        if (out.run.status !== 'completed') throw new Error(`run ended ${out.run.status}`);
        const calls = fake.requests.length - before;
        const expected = judges ? 2 * (NODES + 1) : NODES + 1;
        if (calls !== expected) throw new Error(`expected ${expected} provider calls, saw ${calls}`);
        walls.push(wall);
        await server.close();
      }
      return walls;
    };
    const off = await measure(false);
    const on = await measure(true);
    const slowJudge = await measure(true, JUDGE_MS);
    await fake.close();
    const ideal = (Math.max(CHAIN, Math.ceil(NODES / CONCURRENCY)) + 1) * CALL_MS;
    const wallOff = median(off);
    const wallOn = median(on);
    return {
      rows: [
        {
          metric: 'ideal schedule (chain of 6, 20 nodes at concurrency 4, + synthesis)',
          value: ideal,
          unit: 'ms',
        },
        {
          metric: `default (relevance judge on): wall time, median of ${ROUNDS} runs`,
          value: wallOn,
          unit: 'ms',
        },
        {
          metric: 'default: wall time, each run',
          value: on.map((w) => w.toFixed(0)).join(' / '),
          unit: 'ms',
        },
        {
          metric: 'default (judges on): wall time / ideal schedule',
          value: wallOn / ideal,
          unit: 'x',
          target: '<= 1.2',
          pass: wallOn / ideal <= 1.2,
        },
        {
          metric: `default with a judge that answers in ${JUDGE_MS} ms: wall time, median of ${ROUNDS} runs`,
          value: median(slowJudge),
          unit: 'ms',
        },
        {
          metric: `default with a ${JUDGE_MS} ms judge: wall time / ideal schedule`,
          value: median(slowJudge) / ideal,
          unit: 'x',
        },
        { metric: `judges off: wall time, median of ${ROUNDS} runs`, value: wallOff, unit: 'ms' },
        {
          metric: 'judges off: wall time, each run',
          value: off.map((w) => w.toFixed(0)).join(' / '),
          unit: 'ms',
        },
        {
          metric: 'judges off: wall time / ideal schedule',
          value: wallOff / ideal,
          unit: 'x',
          target: '<= 1.2',
          pass: wallOff / ideal <= 1.2,
        },
        {
          metric:
            'provider calls per run: 20 workers + 1 synthesis (+ one judge call each with judges on), none repeated',
          value: `${NODES + 1} / ${2 * (NODES + 1)}`,
        },
        {
          metric: 'most worker calls in flight at once',
          value: most,
          target: `<= ${CONCURRENCY}`,
          pass: most <= CONCURRENCY,
        },
      ],
      notes: [
        "Default: every worker answer and the synthesis are judged for relevance (the judge runs on the same model here, the only one configured); the fake answers the judge at once, so the default rows measure what judging adds to the schedule, not a judge model's latency. Judges off (TASK_ORCHESTRATOR_JUDGE_GRADERS=off): every node is exactly one 300 ms call. Code graders, the immune check, trials, task gates and the run document writes run in both.",
        `Judges run beside the schedule: once an answer passes its code graders, its slot goes to the next node while the judge votes, and its dependents start on the answer meanwhile; they record nothing until it is done, and a failing verdict stops them and puts them back (tested in test/runs/runs.test.ts). What a ${JUDGE_MS} ms judge still adds is the two verdicts nothing waits beside: the last node of the chain before the synthesis starts, and the synthesis itself before the root completes (2 x ${JUDGE_MS} ms over 2.1 s). Before this change the ${JUDGE_MS} ms judge row was 1.45x: each step of the chain waited for its judge.`,
        'Ready nodes start longest-chain-first (critical-path list scheduling): the chain is created last, yet starts at once.',
        "What is over the ideal is the start (run document, lease, claims: about 50-70 ms to the first call), the steps between a node and its dependent on the critical path, and the end (root completion). Between two steps only two durable writes now wait: the task completion event and one run-document write that records the node done and its newly ready dependents running (claimed in parallel), after which the dependent starts at once without a pass of the scheduling loop. A passing answer's records (flaky-case note, trace, trial, trust, budget settlement, usage) are written meanwhile and awaited before the node ends, so nothing is lost on the way to the synthesis; a failing answer is recorded first, as its retry is checked against it.",
      ],
    };
  },
};
