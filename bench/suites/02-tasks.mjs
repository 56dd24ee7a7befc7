/**
 * Issue 3 benchmarks: tasks_add and tasks_list over stdio at 100 and at 10,000 stored tasks, as
 * ratios to the bare echo server measured in the same run.
 */
import { percentile, startEcho, startOrchestrator, timeCalls } from '../lib.mjs';

const PRIORITIES = ['low', 'medium', 'high', 'critical'];

async function seed(client, count) {
  for (let start = 0; start < count; start += 100) {
    const tasks = Array.from({ length: Math.min(100, count - start) }, (_, i) => {
      const n = start + i;
      return {
        ref: `r${i}`,
        title: `Seed task ${n}: ${['refactor parser', 'fix login bug', 'write docs', 'add metrics'][n % 4]}`,
        description: `Generated task number ${n} for the benchmark.`,
        priority: PRIORITIES[n % 4],
        tags: [`area-${n % 7}`],
        ...(n % 3 === 0 ? { due: `2027-0${(n % 9) + 1}-1${n % 9}` } : {}),
        ...(i > 0 && i % 5 === 0 ? { depends_on: [{ task: `r${i - 1}` }] } : {}),
      };
    });
    const r = await client.callTool({ name: 'tasks_add', arguments: { tasks } });
    if (r.isError) throw new Error(JSON.stringify(r.content));
  }
}

const stats = (ms) => ({ p50: percentile(ms, 50), p99: percentile(ms, 99) });

async function measureAt(count, echo) {
  const server = await startOrchestrator();
  const t0 = performance.now();
  await seed(server.client, count);
  const seedSeconds = (performance.now() - t0) / 1000;
  const add = [];
  const list = [];
  const listAfterChange = [];
  const listSmall = [];
  const base = [];
  let n = 0;
  for (let block = 0; block < 5; block++) {
    const warm = block === 0 ? 20 : 0;
    add.push(
      ...(await timeCalls(
        server.client,
        'tasks_add',
        { tasks: [{ title: `bench add ${n++}`, tags: ['bench'] }] },
        40,
        warm,
      )),
    );
    list.push(...(await timeCalls(server.client, 'tasks_list', { limit: 20 }, 100, warm || 1)));
    listSmall.push(...(await timeCalls(server.client, 'tasks_list', { limit: 10 }, 100, warm || 1)));
    base.push(...(await timeCalls(echo.client, 'echo', { text: 'hello' }, 100, warm)));
    // A list right after a change cannot use the cached order.
    for (let i = 0; i < 10; i++) {
      await server.client.callTool({
        name: 'tasks_add',
        arguments: { tasks: [{ title: `bench change ${n++}` }] },
      });
      listAfterChange.push(...(await timeCalls(server.client, 'tasks_list', { limit: 20 }, 1, 0)));
    }
  }
  await server.close();
  return {
    count,
    seedSeconds,
    add: stats(add),
    list: stats(list),
    listSmall: stats(listSmall),
    listAfterChange: stats(listAfterChange),
    echo: stats(base),
  };
}

export default {
  name: 'tasks',
  title: 'Work orders: tasks_add and tasks_list at 100 and 10,000 tasks',
  async run() {
    const echo = await startEcho();
    const small = await measureAt(100, echo);
    const large = await measureAt(10_000, echo);
    await echo.close();
    const rows = [];
    for (const m of [small, large]) {
      rows.push({
        metric: `seed ${m.count} tasks (batches of 100 via tasks_add)`,
        value: m.seedSeconds,
        unit: 's',
      });
      rows.push({
        metric: `tasks_add p50 / p99 at ${m.count}`,
        value: `${m.add.p50.toFixed(3)} / ${m.add.p99.toFixed(3)}`,
        unit: 'ms',
      });
      rows.push({
        metric: `tasks_add p50 ratio to echo at ${m.count}`,
        value: m.add.p50 / m.echo.p50,
        unit: 'x',
      });
      rows.push({
        metric: `tasks_list p50 / p99 at ${m.count}`,
        value: `${m.list.p50.toFixed(3)} / ${m.list.p99.toFixed(3)}`,
        unit: 'ms',
      });
      rows.push({
        metric: `tasks_list p50 ratio to echo at ${m.count}`,
        value: m.list.p50 / m.echo.p50,
        unit: 'x',
        target: '<= 2x',
        pass: m.list.p50 / m.echo.p50 <= 2,
      });
      rows.push({
        metric: `tasks_list with limit 10, p50 ratio to echo at ${m.count}`,
        value: m.listSmall.p50 / m.echo.p50,
        unit: 'x',
      });
      rows.push({
        metric: `tasks_list right after a change, p50 / p99 at ${m.count}`,
        value: `${m.listAfterChange.p50.toFixed(3)} / ${m.listAfterChange.p99.toFixed(3)}`,
        unit: 'ms',
      });
      rows.push({
        metric: `echo p50 / p99 (same run)`,
        value: `${m.echo.p50.toFixed(3)} / ${m.echo.p99.toFixed(3)}`,
        unit: 'ms',
      });
    }
    const growth = large.add.p50 / small.add.p50;
    rows.push({
      metric: 'tasks_add p50 at 10,000 / at 100',
      value: growth,
      unit: 'x',
      target: '<= 3x',
      pass: growth <= 3,
    });
    return {
      rows,
      notes: [
        'Each tasks_add appends one event (one small write + fdatasync) whatever the number of stored tasks; state is in memory, replayed from the event segments at start.',
        'tasks_list keeps a sorted order per filter and repositions only the tasks a change touched (binary search + splice), so a list right after a change costs about the same as any other, at 100 or 10,000 tasks (it was ~10 ms at 10,000 with a full re-sort).',
        'tasks_list returns 20 summaries by default (structuredContent plus a text line each, ~5 KB); the echo tool returns one word. What remains above echo is payload: the SDK validates structuredContent against the output schema with zod on every call (~15% of server CPU in a profile) and both sides serialise and parse the larger message. The limit-10 row shows how the ratio follows page size.',
        'The seed adds one dependency every 5 tasks, tags, priorities and due dates, so filters and readiness checks have real work.',
      ],
    };
  },
};
