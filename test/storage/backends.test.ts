/**
 * The storage contract on both backends (the state folder and PostgreSQL): documents, append-only
 * logs and event stores shared by several openers as by several servers; on the database also the
 * migrations applied once by servers starting together, changes heard through LISTEN/NOTIFY, and a
 * connection cut mid-write (nothing half-written, a clear error, the next call works).
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import { openStorage } from '../../src/storage/storage.js';
import type { Storage } from '../../src/storage/storage.js';
import type { EventStore } from '../../src/storage/eventStore.js';
import type { Lease, LeaseRules } from '../../src/storage/leaseTable.js';
import { MIGRATIONS } from '../../src/storage/postgres/migrations.js';
import pg from 'pg';
import { freshProject, HAVE_DATABASE, sql, TEST_DATABASE_URL } from '../helpers/postgres.js';

const opened: Storage[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close().catch(() => undefined);
  for (const d of dirs.splice(0)) await fs.rm(d, { recursive: true, force: true });
});

/** Opens `n` storages on one place: one state folder, or one database project. */
async function openMany(backend: 'files' | 'postgres', n: number): Promise<Storage[]> {
  const stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'to-backend-'));
  dirs.push(stateDir);
  const project = freshProject();
  const out = await Promise.all(
    Array.from({ length: n }, () =>
      openStorage({
        stateDir,
        logger: silentLogger,
        redact: (t) => t.replaceAll('sk-secret-123456', '[redacted]'),
        ...(backend === 'postgres' ? { database: { url: TEST_DATABASE_URL, project } } : {}),
      }),
    ),
  );
  opened.push(...out);
  return out;
}

interface Counter {
  n: number;
  seen: number[];
}
const counterStore = (s: Storage) =>
  s.events<Counter, { add: number }>('counter', {
    initial: () => ({ n: 0, seen: [] }),
    apply: (state, e) => {
      state.n += e.add;
      state.seen.push(e.add);
    },
  });

/** The project a database storage writes under (its documents' names say it). */
const projectOf = (s: Storage): string =>
  /^postgres:([^/]+)\//.exec(s.leases('claims') && s.document('x', {}).file)![1]!;

/**
 * Runs a change whose connection is cut after it has decided and before it writes, and answers
 * its error message ('kept' if it was not cut). The terminate goes out on a connection made
 * beforehand and matches only this storage's pool (its application name names the project; other
 * suites use the same database at the same time); the decision waits for it to land (it is
 * synchronous, so it waits by the clock).
 */
async function cutMidWrite(s: Storage, store: EventStore<Counter, { add: number }>): Promise<string> {
  const killer = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await killer.connect();
  try {
    let cutting: Promise<pg.QueryResult<{ cut: boolean }>> | undefined;
    const change = store.transact(() => {
      cutting = killer.query<{ cut: boolean }>(
        `SELECT pg_terminate_backend(pid) AS cut FROM pg_stat_activity WHERE application_name = 'task-orchestrator ${projectOf(s)}' AND xact_start IS NOT NULL AND pid <> pg_backend_pid()`,
      );
      const until = Date.now() + 300;
      while (Date.now() < until);
      return { event: { add: 100 }, result: undefined };
    });
    const outcome = await change.then(
      () => 'kept',
      (e: Error) => e.message,
    );
    expect((await cutting!).rows).toEqual([{ cut: true }]);
    return outcome;
  } finally {
    await killer.end();
  }
}

async function tmp(): Promise<string> {
  const d = await fs.mkdtemp(path.join(os.tmpdir(), 'to-backend-'));
  dirs.push(d);
  return d;
}

const backends = (['files', 'postgres'] as const).filter((b) => b === 'files' || HAVE_DATABASE);

describe.each(backends)('storage on %s', (backend) => {
  it('event stores: 4 openers x 50 concurrent transactions, one gap-free sequence, decided on the latest state', async () => {
    const stores = (await openMany(backend, 4)).map(counterStore);
    const results = await Promise.all(
      stores.flatMap((store, w) =>
        Array.from({ length: 50 }, (_, i) =>
          store.transact((state) => ({ event: { add: w * 1000 + i + 1 }, result: state.n })),
        ),
      ),
    );
    expect(results).toHaveLength(200);
    for (const store of stores) {
      const { n, seen } = await store.read((s) => s);
      expect(seen).toHaveLength(200);
      expect(new Set(seen).size).toBe(200);
      expect(n).toBe(seen.reduce((a, b) => a + b, 0));
      expect(store.version).toBe(200);
    }
    // Each transaction saw every earlier one: the states it decided on are 200 different sums.
    expect(new Set(results).size).toBe(200);
  });

  it('documents: concurrent updates from several openers are all kept; a throwing update changes nothing', async () => {
    const docs = (await openMany(backend, 3)).map((s) => s.document('tally', { items: [] as string[] }));
    await Promise.all(
      docs.flatMap((d, w) =>
        Array.from({ length: 20 }, (_, i) => d.update((doc) => doc.items.push(`${w}-${i}`))),
      ),
    );
    await expect(
      docs[0]!.update(() => {
        throw new Error('no');
      }),
    ).rejects.toThrow('no');
    for (const d of docs) expect(new Set(await d.read((doc) => doc.items)).size).toBe(60);
  });

  it('logs: appends from several openers, read in order, secrets redacted, pruned by age', async () => {
    const [a, b] = (await openMany(backend, 2)).map((s) => s.log<{ i: number; text: string }>('trials'));
    for (let i = 0; i < 10; i++) await (i % 2 ? a! : b!).append({ i, text: `key sk-secret-123456 #${i}` });
    const all = await a!.readAll();
    expect(all.map((r) => r.i).sort((x, y) => x - y)).toEqual([...Array(10).keys()]);
    expect(JSON.stringify(all)).not.toContain('sk-secret-123456');
    expect((await a!.stats()).records).toBe(10);
    // Nothing newer than the cut-off goes; on the database, rows older than it do (the folder's
    // segments and their writers: test/safety/limits.test.ts).
    expect(await a!.prune(Date.now() - 86_400_000)).toBe(0);
    expect((await b!.stats()).records).toBe(10);
    if (backend === 'postgres') {
      expect(await a!.prune(Date.now() + 60_000)).toBe(10);
      expect((await b!.stats()).records).toBe(0);
    }
  });

  it('leases: one holder per key among openers taking the same keys at once; lapsed, released and renewed leases', async () => {
    const tables = (await openMany(backend, 4)).map((s) => s.leases('claims'));
    let now = 1_000_000;
    const rules = (): LeaseRules => ({ now, ttlMs: 30_000, live: (l: Lease, t: number) => l.expires_at > t });
    const keys = Array.from({ length: 30 }, (_, i) => `t${i}`);
    // Four openers, each taking all 30 keys in shuffled batches, some skipping busy keys.
    const outcomes = await Promise.all(
      tables.map((t, w) =>
        t.take(
          [...keys].sort(() => Math.random() - 0.5),
          `w${w}#run`,
          `worker ${w}`,
          { ...rules(), skipBusy: w % 2 === 0 },
        ),
      ),
    );
    const winners = new Map<string, string>();
    for (const o of outcomes.flat())
      if (o.ok) {
        expect(winners.has(o.lease.key)).toBe(false);
        winners.set(o.lease.key, o.lease.holder);
      }
    // Every key has exactly one holder, and every opener agrees on it.
    expect(winners.size).toBe(30);
    for (const t of tables) for (const k of keys) expect((await t.get(k))?.holder).toBe(winners.get(k));
    const [a, b] = tables;
    const held = winners.get('t0')!;
    const other = held === 'w0#run' ? 'w1#run' : 'w0#run';
    // A live lease refuses another holder and names who has it; its own holder renews it.
    const refused = await b!.take(['t0'], other, 'other', rules());
    expect(refused[0]).toEqual({ ok: false, lease: expect.objectContaining({ holder: held }) as unknown });
    const again = await a!.take(['t0'], held, 'same', rules());
    expect(again[0]).toEqual(expect.objectContaining({ ok: true, renewed: true }));
    // Release by the wrong holder does nothing; by the right one frees it.
    await a!.release('t0', other);
    expect((await b!.get('t0'))?.holder).toBe(held);
    await a!.release('t0', held);
    expect(await b!.get('t0')).toBeUndefined();
    // Renewal extends the prefix's leases and drops lapsed ones of others.
    for (const k of keys) await a!.release(k);
    const mine = keys.slice(1, 11);
    const theirs = keys.slice(11, 21);
    await a!.take(mine, 'p1:1:a#run', 'mine', rules());
    await b!.take(theirs, 'p2:2:b#run', 'theirs', rules());
    now += 20_000;
    await a!.renew('p1:1:a#', rules());
    now += 20_000; // 40 s after the takes: only the renewed leases still bind
    for (const k of mine) expect((await b!.get(k))?.expires_at).toBe(now - 20_000 + 30_000);
    expect((await b!.take([theirs[0]!], 'late#x', 'late', rules()))[0]!.ok).toBe(true);
    expect((await b!.take([mine[0]!], 'late#x', 'late', rules()))[0]!.ok).toBe(false);
    await a!.renew('p1:1:a#', rules());
    for (const k of theirs.slice(1)) expect(await b!.get(k)).toBeUndefined();
    expect((await b!.get(theirs[0]!))?.holder).toBe('late#x');
  });
});

describe.skipIf(!HAVE_DATABASE)('storage on postgres only', () => {
  it('keeps projects apart, and ten servers starting together apply each migration once', async () => {
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        const [s] = await openMany('postgres', 1);
        return s;
      }),
    );
    const rows = await sql<{ version: number; n: string }>(
      'SELECT version, count(*) AS n FROM to_migrations GROUP BY version',
    );
    expect(rows.every((r) => Number(r.n) === 1)).toBe(true);
    const [one] = await openMany('postgres', 1);
    const [other] = await openMany('postgres', 1);
    await counterStore(one!).transact(() => ({ event: { add: 5 }, result: undefined }));
    expect(await counterStore(other!).read((s) => s.n)).toBe(0);
  });

  it('tells every opener of a change within a second (LISTEN/NOTIFY)', async () => {
    const [a, b] = await openMany('postgres', 2);
    const heard = new Promise<{ kind: string; name: string }>((resolve) => b!.onChange!((c) => resolve(c)));
    const t = Date.now();
    await counterStore(a!).transact(() => ({ event: { add: 1 }, result: undefined }));
    expect(await heard).toEqual(expect.objectContaining({ kind: 'events', name: 'counter' }));
    expect(Date.now() - t).toBeLessThan(1_000);
  });

  it('a connection cut mid-write loses that write only, with a clear error; the next call works', async () => {
    const [s] = await openMany('postgres', 1);
    const store = counterStore(s!);
    await store.transact(() => ({ event: { add: 1 }, result: undefined }));
    expect(await cutMidWrite(s!, store)).toMatch(
      /The database did not complete a change to counter: terminating connection/,
    );
    // The next call works, on a new connection; nothing of the cut write was kept.
    await store.transact(() => ({ event: { add: 10 }, result: undefined }));
    const state = await store.read((st) => st);
    expect(state.n).toBe(11);
    expect(state.seen).toHaveLength(2);
  });

  it('a store opened at a known point that loses a change takes no more calls (it cannot go back before it)', async () => {
    const [a, b] = await openMany('postgres', 2);
    await counterStore(a!).transact(() => ({ event: { add: 1 }, result: undefined }));
    // Another process opens the store at event 1, as a hook does from a match index.
    const started = b!.events<Counter, { add: number }>('counter', {
      initial: () => ({ n: 0, seen: [] }),
      apply: (state, e) => {
        state.n += e.add;
        state.seen.push(e.add);
      },
      start: { seq: 1, offsets: {}, state: { n: 1, seen: [1] } },
    });
    expect(await cutMidWrite(b!, started)).toMatch(/The database did not complete/);
    await expect(started.transact(() => ({ event: { add: 10 }, result: undefined }))).rejects.toThrow(
      /Store counter was opened at event 1 and lost a change: open it again/,
    );
    await expect(started.read((st) => st.n)).rejects.toThrow(/open it again/);
    // The database kept nothing of it; a store read from the beginning goes on.
    await counterStore(a!).transact(() => ({ event: { add: 10 }, result: undefined }));
    expect(await counterStore(a!).read((st) => st)).toEqual({ n: 11, seen: [1, 10] });
  });

  it('a claim another server is taking at this moment is skipped (SKIP LOCKED), not waited for; a plain take waits', async () => {
    const [s] = await openMany('postgres', 1);
    const table = s!.leases('claims');
    const now = Date.now();
    const rules: LeaseRules = { now, ttlMs: 30_000, live: (l, t) => l.expires_at > t };
    // Another server is in the middle of taking 'busy': its transaction holds the row's lock.
    const other = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await other.connect();
    try {
      const project = projectOf(s!);
      await other.query(
        "INSERT INTO to_leases (project, name, key, holder, label, claimed_at, expires_at) VALUES ($1, 'claims', 'busy', '', '', '', 0)",
        [project],
      );
      await other.query('BEGIN');
      await other.query(
        "SELECT 1 FROM to_leases WHERE project = $1 AND name = 'claims' AND key = 'busy' FOR UPDATE",
        [project],
      );
      await other.query(
        "UPDATE to_leases SET holder = 'other#run', label = 'other', expires_at = $2 WHERE project = $1 AND name = 'claims' AND key = 'busy'",
        [project, now + 30_000],
      );
      const t = Date.now();
      const skipped = await table.take(['busy', 'free'], 'me#run', 'me', { ...rules, skipBusy: true });
      expect(Date.now() - t).toBeLessThan(2_000);
      expect(skipped[0]).toEqual({ ok: false });
      expect(skipped[1]).toEqual(expect.objectContaining({ ok: true }));
      // Without skipping, the take waits for the other transaction, then sees its holder.
      let settled = false;
      const waiting = table.take(['busy'], 'me#run', 'me', rules).then((o) => {
        settled = true;
        return o;
      });
      await new Promise((r) => setTimeout(r, 300));
      expect(settled).toBe(false);
      await other.query('COMMIT');
      expect((await waiting)[0]).toEqual({
        ok: false,
        lease: expect.objectContaining({ holder: 'other#run' }) as unknown,
      });
    } finally {
      await other.end();
    }
  });

  it('migration 2 moves the claims of the claims document into rows (a live claim keeps binding)', async () => {
    const name = `to_mig_${Math.random().toString(36).slice(2, 10)}`;
    await sql(`CREATE DATABASE ${name}`);
    const url = TEST_DATABASE_URL.replace(/\/[^/]*$/, `/${name}`);
    try {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.query(
        'CREATE TABLE to_migrations (version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
      );
      await c.query(MIGRATIONS[0]!.sql);
      await c.query("INSERT INTO to_migrations (version, name) VALUES (1, 'stores')");
      const held = {
        task: 'T1',
        holder: 'h:1:x#run:r',
        label: 'run r',
        claimed_at: 'now',
        expires_at: Date.now() + 30_000,
      };
      await c.query(
        "INSERT INTO to_documents (project, name, value, version) VALUES ('p', 'claims', $1::jsonb, 1)",
        [JSON.stringify({ claims: { T1: held } })],
      );
      await c.end();
      const s = await openStorage({
        stateDir: await tmp(),
        logger: silentLogger,
        database: { url, project: 'p' },
      });
      opened.push(s);
      expect(await s.leases('claims').get('T1')).toEqual({
        key: 'T1',
        holder: held.holder,
        label: 'run r',
        claimed_at: 'now',
        expires_at: held.expires_at,
      });
      expect(await s.documentNames()).not.toContain('claims');
    } finally {
      for (const s of opened.splice(0)) await s.close().catch(() => undefined);
      await sql(`DROP DATABASE ${name} WITH (FORCE)`);
    }
  });
});
