/**
 * Issue 27: does the memory prevent the second failure? A workload of recurring failures through
 * the real server (stdio, SDK client, judges on: the default) against the loopback fake: 10
 * requests the model cannot do (it answers off-topic and the relevance judge fails it), each
 * asked 7 times in 3 wordings (the same words again, a light rewording, a heavier one), mixed with
 * 10 near misses (the same words, another task the model does) and 30 unrelated requests, in one
 * seeded order. The same stream runs with the memory off (TASK_ORCHESTRATOR_IMMUNE=off), on (the
 * defaults) and on with TASK_ORCHESTRATOR_IMMUNE_BLOCK_RISK=0.7. Counted: failures that reached the
 * provider again after a problem's first failure, attempts blocked, and near misses and unrelated
 * requests guarded or blocked. The fake model fails a hard request whatever the guardrail says, so
 * the counts measure what the memory stops, not what its guardrails fix (that needs a real model).
 * Also: the semantic stage's added latency per check at 100,000 patterns (embeddings from the fake,
 * 256 dimensions), against TF-IDF alone in the same run.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  percentile,
  root,
  seedPatterns,
  startOrchestrator,
  tempDir,
  connectStdio,
  cliPath,
} from '../lib.mjs';

const { startFakeLlmServer, hashedVector } = await import(
  pathToFileURL(path.join(root, 'dist-test', 'fakes', 'fakeLlmServer.js')).href
);

/** Hard problems: [first wording, light rewording, heavier rewording, a near miss the model can do]. */
const PROBLEMS = [
  [
    'List the five largest towns in the north of Scotland with their populations',
    'List the five biggest towns in the north of Scotland with their populations',
    'Which five towns in northern Scotland are largest, with their populations listed',
    'List the five largest lochs in the north of Scotland with their depths',
  ],
  [
    'Describe the three oldest districts of Lyon and their history',
    'Describe the history of the three oldest districts of Lyon',
    'Give the history of Lyon and its three oldest districts, oldest first',
    'Describe the three newest tram lines of Lyon and their routes',
  ],
  [
    'Summarise the 1998 annual report of the Tasmanian railway board',
    'Summarise the annual report of the Tasmanian railway board for 1998',
    'Give a summary of what the Tasmanian railway board reported in its 1998 annual report',
    'Summarise the 1998 timetable of the Tasmanian railway board',
  ],
  [
    'Translate the Basque poem about the river Urola into Welsh verse',
    'Translate into Welsh verse the Basque poem about the river Urola',
    'Render the Basque poem on the Urola river as Welsh verse',
    'Translate the Basque road sign about the river Urola into English',
  ],
  [
    'Compute the orbital period of the third moon of the planet Kepler-62f',
    'Compute the orbital period of the planet Kepler-62f third moon',
    'What is the orbital period of the third moon orbiting Kepler-62f, computed',
    'Compute the surface gravity of the planet Kepler-62f',
  ],
  [
    'Write the patch notes for version 4.2 of the Zephyr billing engine',
    'Write patch notes for the Zephyr billing engine version 4.2',
    'Draft the version 4.2 patch notes of the Zephyr billing engine',
    'Write the install guide for version 4.2 of the Zephyr billing engine',
  ],
  [
    'Name every winner of the Ballymena chess open since 1972',
    'Name all the winners of the Ballymena chess open since 1972',
    'Who won the Ballymena chess open each year since 1972, by name',
    'Name the venue of the Ballymena chess open in 1972',
  ],
  [
    'Explain the tax treatment of Liechtenstein foundation dividends in 1987',
    'Explain how Liechtenstein foundation dividends were taxed in 1987',
    'In 1987, what was the tax treatment of dividends paid by Liechtenstein foundations, explained',
    'Explain the legal form of a Liechtenstein foundation',
  ],
  [
    'Reconstruct the lost second act of the opera Il Corsaro Verde',
    'Reconstruct the second act, now lost, of the opera Il Corsaro Verde',
    'Write a reconstruction of the opera Il Corsaro Verde and its lost second act',
    'Reconstruct the cast list of the first act of the opera Il Corsaro Verde',
  ],
  [
    'Give the exact footfall of Hamburg central station on 3 March 2004',
    'Give the footfall of Hamburg central station exactly, 3 March 2004',
    'How many people passed through Hamburg central station on 3 March 2004 exactly',
    'Give the opening hours of Hamburg central station',
  ],
];
const HARD = new Set(PROBLEMS.flatMap((p) => p.slice(0, 3)));
const UNRELATED = Array.from(
  { length: 30 },
  (_, i) =>
    `${['Write a haiku about', 'Explain briefly', 'Give three tips on', 'Summarise in one line', 'Suggest a name for'][i % 5]} ${['autumn leaves', 'unit testing', 'sourdough bread', 'a cycling club', 'garden compost', 'password managers'][i % 6]} number ${i}`,
);

function rng(seed) {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

/** The stream: per problem 3x the first wording, 2x each rewording; the near misses; the unrelated. */
function stream() {
  const items = [];
  PROBLEMS.forEach((p, k) => {
    for (const [w, times] of [
      [0, 3],
      [1, 2],
      [2, 2],
    ])
      for (let t = 0; t < times; t++) items.push({ kind: 'hard', problem: k, prompt: p[w] });
    items.push({ kind: 'near', problem: k, prompt: p[3] });
  });
  for (const u of UNRELATED) items.push({ kind: 'unrelated', prompt: u });
  const r = rng(27);
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  // A problem's first attempt comes before its near miss (the near miss tests the memory).
  return items;
}

async function runWorkload(fake, env) {
  const server = await startOrchestrator({
    OPENAI_API_KEY: 'sk-bench',
    OPENAI_BASE_URL: `${fake.url}/v1`,
    TASK_ORCHESTRATOR_TOOLS: 'immune',
    TASK_ORCHESTRATOR_CLAUDE_CLI: 'off',
    TASK_ORCHESTRATOR_RETRY_BASE_MS: '5',
    ...env,
  });
  const seen = new Set();
  const counts = {
    hardAttempts: 0,
    reachedAgain: 0,
    blocked: 0,
    firstFailures: 0,
    nearGuarded: 0,
    nearBlocked: 0,
    unrelatedGuarded: 0,
    unrelatedBlocked: 0,
    unexpectedPass: 0,
  };
  for (const item of stream()) {
    const r = await server.client.callTool({ name: 'spawn_agent', arguments: { prompt: item.prompt } });
    const blocked = r.isError && /IMMUNE_BLOCKED/.test(r.content?.[0]?.text ?? '');
    if (r.isError && !blocked) throw new Error(`spawn failed: ${r.content?.[0]?.text}`);
    const guarded = !blocked && (r.structuredContent?.immune?.matched_patterns ?? 0) > 0;
    if (item.kind === 'hard') {
      counts.hardAttempts++;
      if (blocked) counts.blocked++;
      else if (r.structuredContent.evaluation.pass) counts.unexpectedPass++;
      else if (seen.has(item.problem)) counts.reachedAgain++;
      else {
        counts.firstFailures++;
        seen.add(item.problem);
      }
    } else if (item.kind === 'near') {
      if (blocked) counts.nearBlocked++;
      else if (guarded) counts.nearGuarded++;
    } else if (blocked) counts.unrelatedBlocked++;
    else if (guarded) counts.unrelatedGuarded++;
  }
  const status = (await server.client.callTool({ name: 'immune_status', arguments: {} })).structuredContent;
  await server.close();
  return { ...counts, patterns: status.patterns, variants: status.variants };
}

export default {
  name: 'memory',
  title: 'The memory prevents the second failure: a recurring-failure workload, memory off vs on',
  async run() {
    const fake = await startFakeLlmServer();
    fake.respond((prompt) => {
      if (prompt.startsWith('You are a strict evaluator')) {
        const response = prompt.slice(prompt.indexOf('RESPONSE:'));
        return {
          text: /I like trains/.test(response)
            ? '{"score": 0.1, "reason": "The answer is about trains, not what was asked."}'
            : '{"score": 0.9, "reason": "The answer addresses the request."}',
        };
      }
      if (prompt.startsWith('An earlier answer')) return { text: '{"lesson": "Answer the question asked."}' };
      return { text: HARD.has(prompt) ? 'I like trains.' : `Here is the answer: ${prompt.slice(0, 60)}.` };
    });
    const off = await runWorkload(fake, { TASK_ORCHESTRATOR_IMMUNE: 'off' });
    const on = await runWorkload(fake, {});
    const strict = await runWorkload(fake, { TASK_ORCHESTRATOR_IMMUNE_BLOCK_RISK: '0.7' });
    const rows = [];
    const repeats = off.hardAttempts - PROBLEMS.length;
    for (const [label, c] of [
      ['memory off', off],
      ['memory on (defaults)', on],
      ['memory on, TASK_ORCHESTRATOR_IMMUNE_BLOCK_RISK=0.7', strict],
    ]) {
      rows.push(
        {
          metric: `${label}: failures reaching the provider again (of ${repeats} repeat attempts)`,
          value: c.reachedAgain,
          ...(label.startsWith('memory on (')
            ? { target: `<= half of off (${off.reachedAgain})`, pass: c.reachedAgain * 2 <= off.reachedAgain }
            : {}),
        },
        { metric: `${label}: repeat attempts blocked before the provider`, value: c.blocked },
        {
          metric: `${label}: near misses guarded / blocked (of ${PROBLEMS.length})`,
          value: `${c.nearGuarded} / ${c.nearBlocked}`,
          ...(label.startsWith('memory on') ? { target: '0 blocked', pass: c.nearBlocked === 0 } : {}),
        },
        {
          metric: `${label}: unrelated requests guarded / blocked (of ${UNRELATED.length})`,
          value: `${c.unrelatedGuarded} / ${c.unrelatedBlocked}`,
          ...(label.startsWith('memory on') ? { target: '0 blocked', pass: c.unrelatedBlocked === 0 } : {}),
        },
      );
      if (label !== 'memory off')
        rows.push({ metric: `${label}: patterns / merged wordings`, value: `${c.patterns} / ${c.variants}` });
    }

    // The semantic stage's cost per check at 100,000 patterns: TF-IDF alone vs with embeddings
    // (fake vectors, 256 dimensions, every pattern text embedded once before timing).
    const n = 100_000;
    const r = rng(n);
    // The immune suite's generator (15 verbs x 15 objects x 15 qualifiers, plus ids), so the TF-IDF
    // row compares with that suite's.
    const V = [
      'generate',
      'create',
      'delete',
      'update',
      'summarise',
      'refactor',
      'migrate',
      'validate',
      'deploy',
      'review',
      'translate',
      'parse',
      'index',
      'export',
      'schedule',
    ];
    const O = [
      'user profile',
      'orders table',
      'payment webhook',
      'sales report',
      'login page',
      'search index',
      'invoice pdf',
      'release notes',
      'cache layer',
      'api schema',
      'csv import',
      'audit log',
      'email template',
      'billing job',
      'feature flag',
    ];
    const Q = [
      'as json',
      'in production',
      'for the board',
      'with tests',
      'without downtime',
      'by friday',
      'in typescript',
      'for mobile',
      'with retries',
      'in batches',
      'for europe',
      'with a schema',
      'safely',
      'quickly',
      'in detail',
    ];
    const pick = (xs) => xs[Math.floor(r() * xs.length)];
    const text = (j) =>
      `${pick(V)} the ${pick(O)} ${pick(Q)} ${pick(Q)} ticket ${j % 997} module ${Math.floor(r() * 5000)}`;
    const state = tempDir('to-bench-memory-');
    const texts = Array.from({ length: n }, (_, j) => text(j));
    await seedPatterns(state.dir, n, (j) => ({
      text: texts[j],
      operation: 'spawn_agent',
      failure_type: 'low_quality',
    }));
    fake.embedWith((t) => hashedVector(t, 256));
    const timeChecks = async (env) => {
      const server = await connectStdio({
        args: [cliPath, 'serve'],
        env: {
          TASK_ORCHESTRATOR_HOME: state.dir,
          TASK_ORCHESTRATOR_LOG_LEVEL: 'warn',
          TASK_ORCHESTRATOR_TOOLS: 'immune',
          TASK_ORCHESTRATOR_CLAUDE_CLI: 'off',
          OPENAI_API_KEY: 'sk-bench',
          OPENAI_BASE_URL: `${fake.url}/v1`,
          ...env,
        },
        cwd: state.dir,
      });
      const call = (prompt) => server.client.callTool({ name: 'immune_check', arguments: { prompt } });
      // Warm-up; with embeddings, wait until every pattern text has its vector (the background fill).
      await call('warm up the index');
      if (env.TASK_ORCHESTRATOR_EMBEDDING_MODEL) {
        for (let i = 0; i < 600; i++) {
          const s = (await server.client.callTool({ name: 'immune_status', arguments: {} }))
            .structuredContent;
          if (s.matching.semantic && s.matching.semantic.waiting === 0 && s.matching.semantic.indexed >= n)
            break;
          await new Promise((res) => setTimeout(res, 500));
        }
      }
      const fresh = [];
      const cached = [];
      for (let i = 0; i < 200; i++) {
        const q = `${text(i)} follow-up ${i}`;
        let t = performance.now();
        await call(q);
        fresh.push(performance.now() - t);
        t = performance.now();
        await call(q);
        cached.push(performance.now() - t);
      }
      const status = (await server.client.callTool({ name: 'immune_status', arguments: {} }))
        .structuredContent;
      await server.close();
      return { fresh: percentile(fresh, 50), cached: percentile(cached, 50), status };
    };
    const tfidf = await timeChecks({});
    const semantic = await timeChecks({ TASK_ORCHESTRATOR_EMBEDDING_MODEL: 'openai/text-embedding-3-small' });
    state.remove();
    await fake.close();
    rows.push(
      {
        // The p50 < 5 ms target is the immune suite's row (same generator, its own server, no
        // 100,000 vectors built just before); here it is the baseline of the added latency.
        metric: `immune_check p50 at ${n.toLocaleString('en')} patterns, TF-IDF only (MCP stdio; target in the immune suite)`,
        value: tfidf.fresh,
        unit: 'ms',
      },
      {
        metric: `immune_check p50 with embeddings, a new prompt (one embedding call) / the same prompt again (cached)`,
        value: `${semantic.fresh.toFixed(2)} / ${semantic.cached.toFixed(2)}`,
        unit: 'ms',
      },
      {
        metric: 'added latency of the semantic stage over TF-IDF alone: a new prompt / a cached one',
        value: `${(semantic.fresh - tfidf.fresh).toFixed(2)} / ${(semantic.cached - tfidf.cached).toFixed(2)}`,
        unit: 'ms',
      },
      {
        metric: 'of it the embedding call (new minus cached prompt; fake server on loopback)',
        value: semantic.fresh - semantic.cached,
        unit: 'ms',
      },
      {
        metric: 'wordings embedded / embedding calls (backfill in batches of 64, plus one per new prompt)',
        value: `${semantic.status.matching.semantic.indexed} / ${semantic.status.matching.semantic.calls}`,
      },
    );
    return {
      rows,
      notes: [
        `Workload: ${PROBLEMS.length} requests the fake model cannot do, 7 attempts each (3x the first wording, 2x a light rewording, 2x a heavier one), ${PROBLEMS.length} near misses and ${UNRELATED.length} unrelated requests, one seeded order, judges on (relevance). A "repeat attempt" is any attempt of a problem after its first; off, each one reaches the provider and fails again.`,
        'Defaults: an escalated pattern (one failure despite its guardrail) blocks at risk 0.9, i.e. the wordings that failed before and near-copies; a new rewording gets the guardrail and, if it fails, joins the pattern and is blocked next time. BLOCK_RISK=0.7 also blocks rewordings of an escalated pattern.',
        'The fake model fails a hard request whatever its guardrail says: the counts show what the memory stops, not what a specific guardrail fixes.',
        'Semantic stage: the fake embeds a text as 256 hashed word buckets (so its "meaning" is its words); real models differ in quality and latency (a hosted call costs 100-300 ms, a local Ollama one tens of ms). The vector search is brute force over one Float32Array (four accumulators, top-k by insertion): at 100,000 wordings it is most of the added time and grows with the dimensions (1536 for text-embedding-3-small: about 6x this); at 10,000 wordings it is a tenth.',
      ],
    };
  },
};
