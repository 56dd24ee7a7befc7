/**
 * Issue 28: evaluation suites at scale. 200 cases x 2 models through the real server (stdio, SDK
 * client, eval_run), every fake call answering after 300 ms, concurrency 8: the wall time against
 * the ideal schedule (cells / concurrency x 300 ms). Then the same suite with instant answers: our
 * overhead per cell (suite handling, the spawn pipeline's budget and breaker, assertions, the trial
 * and the cell written durably), measured at concurrency 1 and 8.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { stringify } from 'yaml';
import { cliPath, connectStdio, root, tempDir } from '../lib.mjs';

const { startFakeLlmServer } = await import(
  pathToFileURL(path.join(root, 'dist-test', 'fakes', 'fakeLlmServer.js')).href
);

const CASES = 200;
const DELAY_MS = 300;

async function runSuite(fake, concurrency) {
  const project = tempDir('to-bench-evals-');
  mkdirSync(path.join(project.dir, 'evals'));
  writeFileSync(
    path.join(project.dir, 'evals', 'bench.yaml'),
    stringify({
      name: 'bench',
      providers: ['openai/model-a', 'openai/model-b'],
      defaults: { max_tokens: 50 },
      cases: Array.from({ length: CASES }, (_, i) => ({
        id: `case-${i}`,
        prompt: `Echo the number ${i}.`,
        assert: [{ type: 'contains', value: String(i) }, { type: 'not-refusal' }],
      })),
    }),
  );
  const server = await connectStdio({
    args: [cliPath, 'serve'],
    env: {
      TASK_ORCHESTRATOR_HOME: path.join(project.dir, '.task-orchestrator'),
      TASK_ORCHESTRATOR_LOG_LEVEL: 'warn',
      TASK_ORCHESTRATOR_TOOLS: 'eval',
      TASK_ORCHESTRATOR_CLAUDE_CLI: 'off',
      OPENAI_API_KEY: 'sk-bench',
      OPENAI_BASE_URL: `${fake.url}/v1`,
    },
    cwd: project.dir,
  });
  const t0 = performance.now();
  const r = await server.client.callTool(
    { name: 'eval_run', arguments: { suite: 'evals/bench.yaml', concurrency, wait_s: 600 } },
    undefined,
    { timeout: 700_000 },
  );
  const wall = performance.now() - t0;
  await server.close();
  project.remove();
  if (r.isError || !r.structuredContent.ended)
    throw new Error(`eval_run failed: ${JSON.stringify(r.content)}`);
  return { wall, cells: r.structuredContent.done_cells, passRate: r.structuredContent.pass_rate };
}

/**
 * The same 200 x 2 suite in promptfoo, when PROMPTFOO_BIN names one (it is not a dependency: its
 * current versions need Node 22; 0.110.0 runs on Node 20 once better-sqlite3 is built). Its wall
 * includes its own process start; --no-write skips its result database.
 */
async function runPromptfoo(bin, fake, concurrency) {
  const project = tempDir('to-bench-promptfoo-');
  const tests = Array.from({ length: CASES }, (_, i) => ({
    vars: { n: String(i) },
    assert: [
      { type: 'contains', value: String(i) },
      { type: 'not-icontains', value: "I can't" },
    ],
  }));
  const provider = (model) => ({
    id: `openai:chat:${model}`,
    config: { apiBaseUrl: `${fake.url}/v1`, apiKey: 'sk-bench', max_tokens: 50 },
  });
  writeFileSync(
    path.join(project.dir, 'promptfooconfig.yaml'),
    stringify({
      prompts: ['Echo the number {{n}}.'],
      providers: [provider('model-a'), provider('model-b')],
      tests,
    }),
  );
  const before = fake.requests.length;
  const t0 = performance.now();
  await new Promise((resolve, reject) =>
    execFile(
      bin,
      [
        'eval',
        '-c',
        'promptfooconfig.yaml',
        '--max-concurrency',
        String(concurrency),
        '--no-cache',
        '--no-progress-bar',
        '--no-write',
        '-o',
        'out.json',
      ],
      {
        cwd: project.dir,
        env: {
          ...process.env,
          HOME: project.dir,
          PROMPTFOO_DISABLE_TELEMETRY: '1',
          PROMPTFOO_DISABLE_UPDATE: '1',
        },
        maxBuffer: 64 * 1024 * 1024,
        timeout: 900_000,
      },
      (error, _out, stderr) =>
        error && fake.requests.length - before < 2 * CASES
          ? reject(new Error(stderr.slice(-500)))
          : resolve(),
    ),
  );
  const wall = performance.now() - t0;
  project.remove();
  return { wall, calls: fake.requests.length - before };
}

export default {
  name: 'evals',
  title: 'Evaluation suites: a 200-case x 2-model run against the ideal schedule, and our overhead per cell',
  async run() {
    const fake = await startFakeLlmServer();
    const rows = [];
    fake.respond((prompt) => ({
      text: `The number is ${/number (\d+)/.exec(prompt)?.[1]}.`,
      delayMs: DELAY_MS,
    }));
    const slow = await runSuite(fake, 8);
    const ideal = (Math.ceil(slow.cells / 8) * DELAY_MS) / 1000;
    rows.push(
      {
        metric: `${CASES} cases x 2 models (${slow.cells} calls of ${DELAY_MS} ms), concurrency 8: wall`,
        value: slow.wall / 1000,
        unit: 's',
      },
      { metric: 'ideal schedule (calls / 8 x 300 ms)', value: ideal, unit: 's' },
      {
        metric: 'wall / ideal',
        value: slow.wall / 1000 / ideal,
        unit: 'x',
        target: '<= 1.2x',
        pass: slow.wall / 1000 / ideal <= 1.2,
      },
      { metric: 'pass rate (every answer right)', value: slow.passRate },
    );
    fake.respond((prompt) => ({ text: `The number is ${/number (\d+)/.exec(prompt)?.[1]}.` }));
    for (const concurrency of [1, 8]) {
      const fast = await runSuite(fake, concurrency);
      rows.push({
        metric: `our overhead per cell with instant answers, concurrency ${concurrency} (wall / ${fast.cells} cells)`,
        value: fast.wall / fast.cells,
        unit: 'ms',
      });
    }
    const promptfoo = process.env.PROMPTFOO_BIN;
    if (promptfoo) {
      for (const concurrency of [1, 8]) {
        const theirs = await runPromptfoo(promptfoo, fake, concurrency);
        rows.push({
          metric: `promptfoo 0.110.0, same suite, instant answers, concurrency ${concurrency} (wall / ${theirs.calls} calls, its start included, no result database)`,
          value: theirs.wall / theirs.calls,
          unit: 'ms',
        });
      }
      fake.respond((prompt) => ({
        text: `The number is ${/number (\d+)/.exec(prompt)?.[1]}.`,
        delayMs: DELAY_MS,
      }));
      const theirs = await runPromptfoo(promptfoo, fake, 8);
      rows.push({
        metric: 'promptfoo, 300 ms answers, concurrency 8: wall / ideal',
        value: theirs.wall / 1000 / ideal,
        unit: 'x',
      });
    }
    await fake.close();
    return {
      rows,
      notes: [
        'Each cell is one call through the spawn pipeline (budget reservation and settlement, breaker, usage record), two assertions, a trial appended and the cell appended durably (fdatasync) before it counts, so that a killed run resumes without repeating it.',
        'The server and the fake run on the same 2-core machine; the 300 ms answers are timers, so the schedule is bound by the concurrency, not the CPU.',
        process.env.PROMPTFOO_BIN
          ? 'promptfoo rows: the same cases, models and assertions (contains, not-icontains) through its openai provider at the same fake; its wall includes its process start (~1 s) and it writes no result database (--no-write: its database write failed here), while ours is timed from the eval_run call in a running server and writes every cell durably.'
          : 'promptfoo rows appear when PROMPTFOO_BIN names a promptfoo binary (its current versions need Node 22).',
      ],
    };
  },
};
