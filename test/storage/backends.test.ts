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
    // Cut every connection of this test's pool while a transaction holds its lock.
    const cut = store.transact(() => {
      void sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE '%pg_advisory_xact_lock%'",
      );
      return { event: { add: 100 }, result: undefined };
    });
    const outcome = await cut.then(
      () => 'kept',
      (e: Error) => e.message,
    );
    if (outcome !== 'kept') expect(outcome).toMatch(/The database did not complete/);
    await store.transact(() => ({ event: { add: 10 }, result: undefined }));
    const state = await store.read((st) => st);
    // Either the cut write committed whole or not at all: never half.
    expect([11, 111]).toContain(state.n);
    expect(state.seen).toHaveLength(state.n === 111 ? 3 : 2);
  });
});
