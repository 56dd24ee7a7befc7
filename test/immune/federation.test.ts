/**
 * Federation, sync and decay through MCP: two projects on one hub folder, a failure learned in one
 * guarding a paraphrase in the other, incremental push/pull with withdrawals, conflicts, sync
 * failures as alerts, and strength decay on a controlled clock.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/logger.js';
import { FolderHub } from '../../src/immune/federation/federationHub.js';
import type { PortablePattern } from '../../src/immune/patterns.js';
import { useFakeLlm } from '../helpers/fakeLlm.js';
import { sc, startWithFakeProvider, textOf } from '../helpers/harness.js';
import type { Harness } from '../helpers/harness.js';

const FAILED = 'Generate the JSON profile for the new user account with name and email';
const PARAPHRASE = 'Create a JSON user profile (name, email) for a newly registered account';
const UNRELATED = 'Summarise the quarterly sales report for the board meeting';
const schema = {
  type: 'object',
  required: ['name', 'email'],
  properties: { name: { type: 'string' }, email: { type: 'string' } },
};

interface Check {
  risk: number;
  matches: Array<{
    pattern_id: string;
    failure_type: string;
    strength: number;
    origin?: { project: string };
  }>;
  guardrails: string[];
}
interface Sync {
  pushed: number;
  withdrawn: number;
  pulled: number;
  updated: number;
  removed: number;
  conflicts: unknown[];
}

let hubDir: string;
const open: Harness[] = [];

const llm = useFakeLlm();
beforeEach(async () => {
  hubDir = await fs.mkdtemp(path.join(os.tmpdir(), 'to-hub-'));
});
afterEach(async () => {
  for (const h of open.splice(0)) {
    await h.close();
  }
  await fs.rm(hubDir, { recursive: true, force: true });
});

/** The sync problems among sync_alerts (it also lists the alert rules' alerts). */
async function syncProblems(h: Harness): Promise<Array<{ kind: string; severity: string; message: string }>> {
  await h.services.alerts.idle();
  return sc<{ alerts: Array<{ kind: string; severity: string; message: string }> }>(
    await h.call('sync_alerts', {}),
  ).alerts.filter((a) => a.kind.startsWith('sync_'));
}

async function project(name: string, env: Record<string, string> = {}, clock?: { now(): number }) {
  const h = await startWithFakeProvider(
    llm.fake.url,
    {
      TASK_ORCHESTRATOR_TOOLS: 'all',
      TASK_ORCHESTRATOR_PROJECT: name,
      TASK_ORCHESTRATOR_FEDERATION_DIR: hubDir,
      ...env,
    },
    clock ? { clock } : {},
  );
  open.push(h);
  return h;
}

describe('federation between two projects', () => {
  it('a failure learned in one project guards a paraphrased prompt in the other', async () => {
    const alpha = await project('alpha');
    const beta = await project('beta');
    llm.fake.script({ text: 'Sure! The profile is ready.' });
    await alpha.call('spawn_agent', { prompt: FAILED, output_schema: schema });
    expect(sc<Sync>(await alpha.call('sync_trigger', { direction: 'push' })).pushed).toBe(1);

    // Before subscribing, beta knows nothing of it.
    expect(sc<Check>(await beta.call('immune_check', { prompt: PARAPHRASE })).matches).toEqual([]);
    const status = sc<{ projects: Array<{ project: string; patterns: number }> }>(
      await beta.call('federation_status', {}),
    );
    expect(status.projects).toEqual([expect.objectContaining({ project: 'alpha', patterns: 1 })]);
    const found = sc<{ results: Array<{ hub_id: string; similarity: number }> }>(
      await beta.call('federation_search', { query: PARAPHRASE }),
    );
    expect(found.results[0]?.hub_id).toMatch(/^alpha\/pat/);
    expect(found.results[0]!.similarity).toBeGreaterThan(0.35);

    sc(await beta.call('federation_subscribe', { project: 'alpha' }));
    expect(sc<Sync>(await beta.call('immune_sync', { direction: 'pull' })).pulled).toBe(1);
    const check = sc<Check>(
      await beta.call('immune_check', { prompt: PARAPHRASE, operation: 'spawn_agent' }),
    );
    expect(check.matches[0]).toMatchObject({ failure_type: 'json_invalid', origin: { project: 'alpha' } });
    expect(check.guardrails).toEqual(['Reply with valid JSON only: no prose before or after it.']);
    expect(sc<Check>(await beta.call('immune_check', { prompt: UNRELATED })).matches).toEqual([]);

    // Beta's next spawn of the paraphrase carries the guardrail learned in alpha.
    llm.fake.script({ text: '{"name": "Ada", "email": "ada@example.com"}' });
    await beta.call('spawn_agent', { prompt: PARAPHRASE, output_schema: schema });
    const system = (
      llm.fake.requests.at(-1)!.body as { messages: Array<{ role: string; content: string }> }
    ).messages.find((m) => m.role === 'system');
    expect(system?.content).toMatch(/Reply with valid JSON only/);
  });

  it('syncs incrementally, carries updates and withdrawals, and keeps lineage', async () => {
    const alpha = await project('alpha');
    const beta = await project('beta');
    llm.fake.script({ text: '' }, { text: '' });
    await alpha.call('spawn_agent', { prompt: FAILED });
    sc(await beta.call('federation_subscribe', { project: 'alpha' }));
    expect(sc<Sync>(await alpha.call('sync_trigger', {}))).toMatchObject({ pushed: 1 });
    expect(sc<Sync>(await beta.call('sync_trigger', {}))).toMatchObject({ pulled: 1, pushed: 0 });
    // Nothing changed: nothing moves.
    expect(sc<Sync>(await alpha.call('sync_trigger', {}))).toMatchObject({ pushed: 0, pulled: 0 });
    expect(sc<Sync>(await beta.call('sync_trigger', {}))).toMatchObject({ pulled: 0, updated: 0 });

    // The same failure again in alpha merges; the next sync carries the new count only.
    await alpha.call('spawn_agent', { prompt: FAILED });
    const behind = sc<{ behind: Record<string, number> }>(await beta.call('sync_status', {}));
    expect(behind.behind.alpha).toBe(0); // alpha has not pushed yet
    expect(sc<{ unpushed_changes: number }>(await alpha.call('sync_status', {})).unpushed_changes).toBe(1);
    expect(sc<Sync>(await alpha.call('sync_trigger', { direction: 'push' })).pushed).toBe(1);
    expect(sc<{ behind: Record<string, number> }>(await beta.call('sync_status', {})).behind.alpha).toBe(1);
    expect(sc<Sync>(await beta.call('sync_trigger', { direction: 'pull' }))).toMatchObject({
      pulled: 0,
      updated: 1,
    });
    const imported = sc<{
      patterns: Array<{ id: string; occurrences: number; origin?: { project: string; pattern_id: string } }>;
    }>(await beta.call('immune_failures', {}));
    const own = sc<{ patterns: Array<{ id: string }> }>(await alpha.call('immune_failures', {}));
    expect(imported.patterns[0]).toMatchObject({
      occurrences: 2,
      origin: { project: 'alpha', pattern_id: own.patterns[0]!.id },
    });

    // Withdrawn in alpha: removed from the hub, then from beta.
    expect(
      sc<{ changed: number }>(
        await alpha.call('federation_share', { pattern_ids: [own.patterns[0]!.id], shared: false }),
      ).changed,
    ).toBe(1);
    expect(sc<Sync>(await alpha.call('sync_trigger', { direction: 'push' })).withdrawn).toBe(1);
    expect(sc<Sync>(await beta.call('sync_trigger', { direction: 'pull' })).removed).toBe(1);
    expect(sc<Check>(await beta.call('immune_check', { prompt: FAILED })).matches).toEqual([]);
    // Imported patterns are never re-published by the importer.
    expect(sc<Sync>(await beta.call('sync_trigger', { direction: 'push' })).pushed).toBe(0);
  });

  it('imports a searched pattern by hub id, and refuses bad ids with what to do', async () => {
    const alpha = await project('alpha');
    const beta = await project('beta');
    llm.fake.script({ text: 'Sure! The profile is ready.' });
    await alpha.call('spawn_agent', { prompt: FAILED, output_schema: schema });
    await alpha.call('sync_trigger', {});
    const hubId = sc<{ results: Array<{ hub_id: string }> }>(
      await beta.call('federation_search', { query: FAILED, projects: ['alpha'] }),
    ).results[0]!.hub_id;
    expect(
      sc<{ imported: number }>(await beta.call('federation_import', { hub_ids: [hubId] })).imported,
    ).toBe(1);
    expect(sc<{ updated: number }>(await beta.call('federation_import', { hub_ids: [hubId] })).updated).toBe(
      1,
    );
    const missing = await beta.call('federation_import', { hub_ids: ['alpha/pat_nope'] });
    expect(missing.isError).toBe(true);
    expect(textOf(missing)).toMatch(/holds no pattern alpha\/pat_nope.*federation_search/);
    const self = await beta.call('federation_subscribe', { project: 'beta' });
    expect(self.isError).toBe(true);
    expect(textOf(self)).toMatch(/cannot subscribe to itself/);
  });

  it('says how to configure a hub when none is set', async () => {
    const h = await startWithFakeProvider(llm.fake.url, { TASK_ORCHESTRATOR_TOOLS: 'all' });
    open.push(h);
    const r = await h.call('sync_trigger', { direction: 'both' });
    expect(r.isError).toBe(true);
    expect(textOf(r)).toMatch(/TASK_ORCHESTRATOR_FEDERATION_DIR/);
    expect(sc<{ configured: boolean }>(await h.call('federation_status', {})).configured).toBe(false);
    expect(await syncProblems(h)).toEqual([]);
  });

  it('records a failed sync and reports it in sync_alerts and sync_status until a sync succeeds', async () => {
    const alpha = await project('alpha');
    llm.fake.script({ text: '' });
    await alpha.call('spawn_agent', { prompt: FAILED });
    // The hub cannot hold alpha's document: a directory sits where the file should be.
    await fs.mkdir(path.join(hubDir, 'p-alpha.json'));
    const r = await alpha.call('sync_trigger', { direction: 'push' });
    expect(r.isError).toBe(true);
    expect((await syncProblems(alpha))[0]).toMatchObject({ kind: 'sync_failed', severity: 'critical' });
    expect(sc<{ failures_24h: number }>(await alpha.call('sync_status', {})).failures_24h).toBe(1);
    await alpha.services.alerts.idle();
    expect(
      sc<{ alerts: { by_kind: Record<string, number> } }>(
        await alpha.call('immune_dashboard', { format: 'json' }),
      ).alerts.by_kind,
    ).toMatchObject({ sync_failed: 1, NewPatternDetected: 1 });
    await fs.rm(path.join(hubDir, 'p-alpha.json'), { recursive: true });
    expect(sc<Sync>(await alpha.call('sync_trigger', { direction: 'push' })).pushed).toBe(1);
    expect(await syncProblems(alpha)).toEqual([]);
  });
});

describe('sync lag', () => {
  it('warns when a change waits more than two sync intervals to be pushed', async () => {
    let now = Date.parse('2026-11-01T00:00:00.000Z');
    const h = await project('alpha', { TASK_ORCHESTRATOR_SYNC_INTERVAL_S: '60' }, { now: () => now });
    llm.fake.script({ text: '' });
    await h.call('spawn_agent', { prompt: FAILED });
    expect(await syncProblems(h)).toEqual([]);
    now += 121_000;
    expect(await syncProblems(h)).toEqual([
      expect.objectContaining({
        kind: 'sync_lag',
        message: expect.stringMatching(/1 local change/) as string,
      }),
    ]);
    sc(await h.call('sync_trigger', { direction: 'push' }));
    expect(await syncProblems(h)).toEqual([]);
  });
});

describe('the folder hub', () => {
  const portable = (over: Partial<PortablePattern>): PortablePattern => ({
    project: 'alpha',
    pattern_id: 'pat_1',
    operation: 'spawn_agent',
    failure_type: 'json_invalid',
    prompt_summary: 'p',
    output_summary: 'o',
    text: 'generate json profile',
    occurrences: 1,
    saves: 0,
    strength: 1,
    strength_at: '2026-01-01T00:00:00.000Z',
    first_seen: '2026-01-01T00:00:00.000Z',
    last_seen: '2026-01-01T00:00:00.000Z',
    updated_at: '2026-01-01T00:00:00.000Z',
    ...over,
  });

  it('resolves concurrent writers last-writer-wins with a deterministic tie-break, and reports the loser', async () => {
    const logger = createLogger({ level: 'error', write: () => {} });
    const a = await FolderHub.open(hubDir, logger);
    const b = await FolderHub.open(hubDir, logger);
    const me = { name: 'alpha', path: '/p/alpha' };
    const newer = portable({ occurrences: 3, updated_at: '2026-01-03T00:00:00.000Z' });
    const older = portable({ occurrences: 2, updated_at: '2026-01-02T00:00:00.000Z' });
    expect((await a.publish(me, [newer], [])).published).toBe(1);
    const late = await b.publish(me, [older], []);
    expect(late.published).toBe(0);
    expect(late.conflicts).toEqual([expect.objectContaining({ pattern_id: 'pat_1', kept: 'hub' })]);
    expect((await a.get('alpha', ['pat_1']))[0]?.occurrences).toBe(3);
    // Same timestamp, different content: both orders of arrival end with the same winner.
    const x = portable({ pattern_id: 'pat_2', occurrences: 5, updated_at: '2026-01-04T00:00:00.000Z' });
    const y = portable({ pattern_id: 'pat_2', occurrences: 6, updated_at: '2026-01-04T00:00:00.000Z' });
    await a.publish(me, [x], []);
    await b.publish(me, [y], []);
    const first = (await a.get('alpha', ['pat_2']))[0]!.occurrences;
    const dir2 = await fs.mkdtemp(path.join(os.tmpdir(), 'to-hub2-'));
    const c = await FolderHub.open(dir2, logger);
    await c.publish(me, [y], []);
    await c.publish(me, [x], []);
    expect((await c.get('alpha', ['pat_2']))[0]!.occurrences).toBe(first);
    // A second folder claiming the same project name is refused.
    await expect(a.publish({ name: 'alpha', path: '/elsewhere' }, [x], [])).rejects.toThrow(
      /already used in the hub by \/p\/alpha/,
    );
    await Promise.all([a.close(), b.close(), c.close()]);
    await fs.rm(dir2, { recursive: true, force: true });
  });

  it('keeps every write from several processes publishing at once', async () => {
    const logger = createLogger({ level: 'error', write: () => {} });
    const hubs = await Promise.all([1, 2, 3, 4].map(() => FolderHub.open(hubDir, logger)));
    const me = { name: 'alpha', path: '/p/alpha' };
    await Promise.all(
      hubs.flatMap((hub, i) =>
        Array.from({ length: 25 }, (_, j) =>
          hub.publish(me, [portable({ pattern_id: `pat_${i}_${j}` })], []),
        ),
      ),
    );
    const changes = await hubs[0]!.changes('alpha', 0);
    expect(changes.patterns).toHaveLength(100);
    expect(changes.rev).toBe(100);
    expect((await hubs[0]!.changes('alpha', 90)).patterns).toHaveLength(10);
    await Promise.all(hubs.map((h) => h.close()));
  });
});

describe('decay', () => {
  it('halves strength every 72 hours, weakens on false positives, and prunes stale weak patterns', async () => {
    let now = Date.parse('2026-11-01T00:00:00.000Z');
    const clock = { now: () => now };
    const h = await project('alpha', {}, clock);
    llm.fake.script({ text: '' }, { text: '' });
    await h.call('spawn_agent', { prompt: FAILED });
    const fresh = sc<Check>(await h.call('immune_check', { prompt: FAILED }));
    expect(fresh.matches[0]!.strength).toBeCloseTo(1, 5);
    now += 72 * 3_600_000;
    const later = sc<Check>(await h.call('immune_check', { prompt: FAILED }));
    expect(later.matches[0]!.strength).toBeCloseTo(0.5, 5);
    // A weaker pattern adds less risk for the same similarity.
    expect(later.risk).toBeLessThan(fresh.risk);

    const id = later.matches[0]!.pattern_id;
    const fp = sc<{ strength: number; false_positives: number }>(
      await h.call('immune_feedback', { pattern_id: id, verdict: 'false_positive' }),
    );
    expect(fp).toMatchObject({ false_positives: 1 });
    expect(fp.strength).toBeCloseTo(0.25, 5);

    // Ten days later: weak, but not yet stale (14 days since the feedback).
    now += 10 * 24 * 3_600_000;
    let report = sc<{ weak: number; stale: number; pruned: Array<{ id: string }> }>(
      await h.call('federation_decay', {}),
    );
    expect(report).toMatchObject({ weak: 1, stale: 0, pruned: [] });
    now += 5 * 24 * 3_600_000;
    report = sc<{ weak: number; stale: number; pruned: Array<{ id: string }> }>(
      await h.call('federation_decay', {}),
    );
    expect(report.pruned.map((p) => p.id)).toEqual([id]);
    expect(sc<{ patterns: number }>(await h.call('immune_status', {})).patterns).toBe(1); // not applied
    sc(await h.call('federation_decay', { apply: true }));
    expect(sc<{ patterns: number }>(await h.call('immune_status', {})).patterns).toBe(0);
    expect(sc<Check>(await h.call('immune_check', { prompt: FAILED })).matches).toEqual([]);
  });

  it('keeps a stale pattern that was reinforced enough to stay strong', async () => {
    let now = Date.parse('2026-11-01T00:00:00.000Z');
    const h = await project('alpha', {}, { now: () => now });
    llm.fake.script({ text: '' }, { text: '' }, { text: '' });
    await h.call('spawn_agent', { prompt: FAILED });
    await h.call('spawn_agent', { prompt: `${FAILED}.` });
    const id = sc<{ patterns: Array<{ id: string; strength: number }> }>(await h.call('immune_failures', {}))
      .patterns[0]!.id;
    for (let i = 0; i < 6; i++) await h.call('immune_feedback', { pattern_id: id, verdict: 'confirmed' });
    now += 15 * 24 * 3_600_000;
    const report = sc<{ stale: number; pruned: unknown[] }>(
      await h.call('federation_decay', { apply: true }),
    );
    expect(report).toMatchObject({ stale: 1, pruned: [] });
  });
});
