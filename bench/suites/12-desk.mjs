/* global fetch, TextDecoder */
/**
 * Issue 18: the review desk on a large failure memory. `task-orchestrator dashboard` serves the
 * pattern list, a search and a pattern page over 1,000 and 10,000 remembered patterns (p50 of 20
 * requests each, and the list page's size: at most 200 rows), and how long a new failure written
 * by another process takes to reach an open page's event stream (`event: change`, polled once a
 * second), p50 of 8.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { median, percentile, root, seedPatterns, startDesk, tempDir } from '../lib.mjs';

const SIZES = [1000, 10_000];
const REQUESTS = 20;
const LIVE_ROUNDS = 8;
const TOPICS = ['billing report', 'login page', 'search index', 'release notes', 'csv import'];

async function timeGets(url, n) {
  const times = [];
  let bytes = 0;
  await fetch(url).then((r) => r.text());
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const res = await fetch(url);
    const body = await res.text();
    if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
    times.push(performance.now() - t0);
    bytes = body.length;
  }
  return { p50: percentile(times, 50), bytes };
}

export default {
  name: 'desk',
  title: 'Review desk: pages over a large failure memory, and live updates',
  async run() {
    const rows = [];
    const dist = (...p) => pathToFileURL(path.join(root, 'dist', ...p)).href;
    const { ImmuneSystem } = await import(dist('immune', 'immuneSystem.js'));
    const { openStorage } = await import(dist('storage', 'storage.js'));
    const { createLogger } = await import(dist('core', 'logger.js'));
    for (const n of SIZES) {
      const state = tempDir('to-bench-desk-');
      await seedPatterns(state.dir, n, (i) => ({
        operation: 'spawn_agent',
        failure_type: ['empty_response', 'json_invalid', 'hallucination'][i % 3],
        text: `Write the ${TOPICS[i % TOPICS.length]} number ${i} for team ${i % 97}`,
      }));
      const desk = await startDesk({ TASK_ORCHESTRATOR_HOME: state.dir });
      try {
        const list = await timeGets(`${desk.base}/patterns`, REQUESTS);
        const search = await timeGets(
          `${desk.base}/patterns?q=login+page&failure_type=json_invalid`,
          REQUESTS,
        );
        const one = await timeGets(`${desk.base}/patterns/imp-bench-pat_${Math.floor(n / 2)}`, REQUESTS);
        rows.push(
          { metric: `${n.toLocaleString('en')} patterns: /patterns p50`, value: list.p50, unit: 'ms' },
          {
            metric: `${n.toLocaleString('en')} patterns: /patterns page size (200 rows at most)`,
            value: Math.round(list.bytes / 1024),
            unit: 'KiB',
          },
          {
            metric: `${n.toLocaleString('en')} patterns: filtered search p50`,
            value: search.p50,
            unit: 'ms',
          },
          { metric: `${n.toLocaleString('en')} patterns: a pattern's page p50`, value: one.p50, unit: 'ms' },
        );
        if (n === SIZES[0]) {
          // Live: another process records failures; an open page's stream says `change`.
          const storage = await openStorage({
            stateDir: state.dir,
            logger: createLogger({ level: 'error', write: () => {} }),
          });
          const immune = new ImmuneSystem(storage, { now: () => Date.now() });
          const res = await fetch(`${desk.base}/events`);
          const reader = res.body.getReader();
          const decoder = new TextDecoder();
          let buffer = '';
          const nextChange = async () => {
            for (;;) {
              const at = buffer.indexOf('event: change');
              if (at >= 0) {
                buffer = buffer.slice(at + 13);
                return;
              }
              const { value, done } = await reader.read();
              if (done) throw new Error('event stream ended');
              buffer += decoder.decode(value);
            }
          };
          await new Promise((r) => setTimeout(r, 1500));
          const lags = [];
          for (let i = 0; i < LIVE_ROUNDS; i++) {
            buffer = '';
            const t0 = performance.now();
            await immune.recordFailure({
              operation: 'spawn_agent',
              failure_type: 'empty_response',
              prompt: `A brand new failure ${i} about the quarterly ${TOPICS[i % TOPICS.length]}`,
              output: '',
              grader_scores: {},
            });
            await nextChange();
            lags.push(performance.now() - t0);
            await new Promise((r) => setTimeout(r, 300));
          }
          await reader.cancel();
          await storage.close();
          const lag = median(lags);
          rows.push({
            metric: 'a new failure to the open page (event: change), median of 8',
            value: lag,
            unit: 'ms',
            target: '<= 2000',
            pass: lag <= 2000,
          });
        }
      } finally {
        await desk.stop();
        state.remove();
      }
    }
    return {
      rows,
      notes: [
        'The dashboard runs as its own process (as `task-orchestrator dashboard` does); requests come from this process over loopback. Seeded patterns are imported ones (federation import), so their ids are imp-bench-pat_<n>.',
        'The list shows the newest 200 matching patterns; the filters and the search narrow a larger memory. Every request re-reads nothing unless the memory changed (the event store catches up incrementally).',
        'Live updates: the desk polls the memory, the inbox and the runs once a second (one poll for all open pages) and sends `change`; the page then fetches itself and swaps its live regions. The lag is that poll plus the fetch.',
      ],
    };
  },
};
