/**
 * The storage of storage.ts on PostgreSQL: the same documents, append-only logs and event stores,
 * each row under its project, so a team's servers on several machines share one memory, one task
 * graph and one inbox. Where the file backend takes a file lock, a transaction takes an advisory
 * lock on the store (an event store's appends stay one gap-free sequence; a document's updates
 * are serialised by `SELECT ... FOR UPDATE`). Every committed change is announced with NOTIFY, so
 * other servers hear of it at once (`onChange`). Migrations (migrations.ts) are applied on open,
 * once, under an advisory lock.
 *
 * A lost connection (the database restarted, a backend terminated) fails the call in hand with a
 * clear error and rolls back what it did; the pool opens a new connection for the next call. When
 * the database cannot be reached at all, a breaker (gate.ts) makes calls fail at once and tries
 * again after a pause that doubles while it stays down.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import type pg from 'pg';
import driver from './pgDriver.js';
import { AppError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { AppendLog, AppendLogStats } from '../appendLog.js';
import type { RecoveryEvent } from '../atomicFile.js';
import { Batcher } from '../batcher.js';
import type { DocumentStore } from '../documentStore.js';
import { decideLease } from '../leaseTable.js';
import type { Lease, LeaseOutcome, LeaseRules, LeaseTable } from '../leaseTable.js';
import type { Decision, EventStore, EventStoreOptions, AnchoredEvent, StorePosition } from '../eventStore.js';
import { ConnectFailed, DatabaseGate } from './gate.js';
import type { GateStatus } from './gate.js';
import { MIGRATIONS } from './migrations.js';

/** The channel every change is announced on: `<project>\t<kind>\t<name>`. */
const CHANNEL = 'task_orchestrator_changes';
/** Advisory lock key of migrations (any fixed number; the stores use hashtext of their names). */
const MIGRATION_LOCK = 74_211_031;

export interface PgStorageOptions {
  /** postgres://user@host:port/database */
  url: string;
  /** The project whose rows this storage reads and writes. */
  project: string;
  /** The local state folder (hook socket, logs, artifacts stay files). */
  stateDir: string;
  logger: Logger;
  serialize: (value: unknown, indent?: number) => string;
  /** Connections in the pool. Default 4. */
  poolSize?: number;
  /** Hear other servers' changes on a connection of its own (LISTEN). Default true. */
  listen?: boolean;
}

export interface PgChange {
  project: string;
  kind: 'events' | 'document' | 'log';
  name: string;
}

/** A database error as a storage error that says what to do. */
function unavailable(error: unknown, what: string): AppError {
  if (error instanceof AppError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new AppError('PROVIDER_UNAVAILABLE', `The database did not complete ${what}: ${message}`, {
    hint: 'Check that PostgreSQL is running and TASK_ORCHESTRATOR_DATABASE_URL points at it (task-orchestrator doctor); nothing of this call was kept',
    cause: error,
  });
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** Resolves each queued call of a committed batch with its own outcome. */
function settle(
  batch: ReadonlyArray<{ resolve: (v: unknown) => void; reject: (e: unknown) => void }>,
  outcomes: readonly Outcome[],
): void {
  batch.forEach((item, i) => {
    const o = outcomes[i]!;
    if (o.ok) item.resolve(o.value);
    else item.reject(o.error);
  });
}

/** A call on a store after the server closed it. */
const closedError = (kind: string, name: string): AppError =>
  new AppError('STORAGE_CLOSED', `${kind} ${name} is closed`, {
    hint: 'The server is shutting down; retry against a running server',
  });

/** The pool's calls the stores make, each behind the database's breaker (gate.ts). */
type Db = Pick<pg.Pool, 'query' | 'connect'>;

function gated(pool: pg.Pool, gate: DatabaseGate): Db {
  const connect = () =>
    gate.run(() =>
      pool.connect().catch((error: unknown) => {
        throw new ConnectFailed(error);
      }),
    );
  // As pool.query does it (a connection that failed a query is not reused), but connecting first.
  const query = async (...args: unknown[]) => {
    const client = await connect();
    try {
      const result: unknown = await (client.query as (...a: unknown[]) => Promise<unknown>).apply(
        client,
        args,
      );
      client.release();
      return result;
    } catch (error) {
      client.release(error instanceof Error ? error : true);
      throw error;
    }
  };
  return { query: query as unknown as pg.Pool['query'], connect: connect as pg.Pool['connect'] };
}

/** Runs `work` in a transaction on one connection; rolls back on any error. */
async function inTransaction<R>(pool: Db, what: string, work: (c: pg.PoolClient) => Promise<R>): Promise<R> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw unavailable(error, what);
  }
  let broken = false;
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {
      broken = true;
    });
    throw unavailable(error, what);
  } finally {
    client.release(broken);
  }
}

/** Applies the migrations this database lacks, once however many servers start together. */
async function migrate(pool: pg.Pool, logger: Logger): Promise<number> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await client.query(
        'CREATE TABLE IF NOT EXISTS to_migrations (version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
      );
      const done = new Set(
        (await client.query<{ version: number }>('SELECT version FROM to_migrations')).rows.map(
          (r) => r.version,
        ),
      );
      let applied = 0;
      for (const m of MIGRATIONS) {
        if (done.has(m.version)) continue;
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query('INSERT INTO to_migrations (version, name) VALUES ($1, $2)', [
            m.version,
            m.name,
          ]);
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw error;
        }
        logger.info('database: applied migration', { version: m.version, name: m.name });
        applied++;
      }
      return applied;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    }
  } finally {
    client.release();
  }
}

/** What `doctor` reports of a database: reachable, migrated, allowed, and what this project holds. */
export interface DatabaseReport {
  ok: boolean;
  /** One line per finding, for people. */
  findings: string[];
}

/** Connects once and looks: server, migration level against this code's, privileges, this project's rows. */
export async function inspectDatabase(url: string, project: string): Promise<DatabaseReport> {
  const client = new driver.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  client.on('error', () => undefined);
  const findings: string[] = [];
  let ok = true;
  try {
    await client.connect();
  } catch (error) {
    return {
      ok: false,
      findings: [`cannot connect: ${error instanceof Error ? error.message : String(error)}`],
    };
  }
  try {
    const v = await client.query<{ v: string; db: string; who: string }>(
      "SELECT current_setting('server_version') AS v, current_database() AS db, current_user AS who",
    );
    findings.push(`PostgreSQL ${v.rows[0]!.v}, database ${v.rows[0]!.db} as ${v.rows[0]!.who}`);
    const expected = MIGRATIONS[MIGRATIONS.length - 1]!.version;
    const level = await client.query<{ level: number }>(
      "SELECT CASE WHEN to_regclass('to_migrations') IS NULL THEN 0 ELSE (SELECT coalesce(max(version), 0) FROM to_migrations) END AS level",
    );
    const at = Number(level.rows[0]?.level ?? 0);
    if (at > expected) {
      ok = false;
      findings.push(
        `schema at migration ${at}, newer than this version knows (${expected}): upgrade task-orchestrator`,
      );
    } else
      findings.push(
        `schema at migration ${at} of ${expected}${at < expected ? ' (the next server start applies the rest)' : ''}`,
      );
    const create = await client.query<{ ok: boolean }>(
      "SELECT has_database_privilege(current_user, current_database(), 'CREATE') AS ok",
    );
    if (at < expected && !create.rows[0]!.ok) {
      ok = false;
      findings.push(
        'this user may not create tables: a database owner must start a server once (or grant CREATE)',
      );
    }
    if (at >= 1) {
      const rights = await client.query<{ t: string; ok: boolean }>(
        "SELECT t, has_table_privilege(current_user, t, 'SELECT,INSERT,UPDATE,DELETE') AS ok FROM unnest(ARRAY['to_events','to_documents','to_logs','to_leases']) AS t WHERE to_regclass(t) IS NOT NULL",
      );
      const missing = rights.rows.filter((r) => !r.ok).map((r) => r.t);
      if (missing.length) {
        ok = false;
        findings.push(`this user may not read and write ${missing.join(', ')}`);
      } else {
        const held = await client.query<{ n: string }>(
          'SELECT (SELECT count(*) FROM to_events WHERE project = $1) + (SELECT count(*) FROM to_documents WHERE project = $1) + (SELECT count(*) FROM to_logs WHERE project = $1) AS n',
          [project],
        );
        findings.push(`project "${project}": ${held.rows[0]!.n} row(s)`);
      }
    }
  } catch (error) {
    ok = false;
    findings.push(`check failed: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    await client.end().catch(() => undefined);
  }
  return { ok, findings };
}

interface Pending<S, E> {
  decide: (state: Readonly<S>) => Decision<E, unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * When the database wrote a row, in microseconds (the same in every time zone): with its sequence
 * number it tells one database's log from another's that happens to be as long.
 */
const ANCHOR = '(extract(epoch FROM at) * 1000000)::bigint::text AS anchor';

/** A store's events with their anchors ($1 project, $2 store), to be narrowed by sequence number. */
const EVENTS = `SELECT seq, event, ${ANCHOR} FROM to_events WHERE project = $1 AND store = $2`;

class PgEventStore<S, E> implements EventStore<S, E> {
  private state: S;
  private applied = 0;
  /** The anchor of the event at `applied` ('' before any). */
  private anchor = '';
  private closed = false;
  private readonly batcher = new Batcher<Pending<S, E>>((batch) => this.runBatch(batch));
  private catching: Promise<void> = Promise.resolve();
  /**
   * Set when a store opened at a known point (`start`) lost a batch: it holds only part of the
   * state and cannot replay what came before that point, so it takes no more calls.
   */
  private lost: AppError | undefined;

  constructor(
    private readonly pool: Db,
    private readonly project: string,
    private readonly name: string,
    readonly dir: string,
    private readonly options: Pick<
      EventStoreOptions<S, E>,
      'initial' | 'apply' | 'maxEventBytes' | 'start'
    > & {
      serialize: (value: unknown) => string;
    },
  ) {
    const start = options.start;
    this.state = start ? start.state : options.initial();
    this.applied = start?.seq ?? 0;
  }

  get version(): number {
    return this.applied;
  }

  /** Where the state read last stands: no segments; the anchor names its last event. */
  position(): StorePosition | undefined {
    return { seq: this.applied, offsets: {}, anchor: this.anchor };
  }

  private async readNew(db: Db | pg.PoolClient): Promise<void> {
    const r = await db.query<{ seq: string; event: E; anchor: string }>(
      `${EVENTS} AND seq > $3 ORDER BY seq`,
      [this.project, this.name, this.applied],
    );
    for (const row of r.rows) {
      const seq = Number(row.seq);
      if (seq !== this.applied + 1) break; // committed in order under the store's lock: no gaps
      this.options.apply(this.state, row.event, seq);
      this.applied = seq;
      this.anchor = row.anchor;
    }
  }

  async read<R>(select: (state: Readonly<S>, version: number) => R): Promise<R> {
    if (this.lost) throw this.lost;
    const run = this.catching.then(() => this.readNew(this.pool));
    this.catching = run.catch(() => undefined);
    try {
      await run;
    } catch (error) {
      throw unavailable(error, `reading ${this.name}`);
    }
    return select(this.state, this.applied);
  }

  transact<R>(decide: (state: Readonly<S>) => Decision<E, R>): Promise<R> {
    if (this.closed) return Promise.reject(closedError('Store', this.name));
    if (this.lost) return Promise.reject(this.lost);
    return new Promise<R>((resolve, reject) => {
      this.batcher.add({ decide, resolve: resolve as (v: unknown) => void, reject });
    });
  }

  private async runBatch(batch: Pending<S, E>[]): Promise<void> {
    const outcomes: Outcome[] = [];
    const maxBytes = this.options.maxEventBytes ?? 4 * 1024 * 1024;
    try {
      await inTransaction(this.pool, `a change to ${this.name}`, async (client) => {
        await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`${this.project}\t${this.name}`]);
        // Reads wait: the state is caught up and changed under the lock.
        const caught = this.catching.then(() => this.readNew(client));
        this.catching = caught.catch(() => undefined);
        await caught;
        const rows: Array<[number, string]> = [];
        for (const item of batch) {
          try {
            const decision = item.decide(this.state);
            if (decision.event !== undefined) {
              const text = this.options.serialize(decision.event);
              if (Buffer.byteLength(text) > maxBytes)
                throw new AppError(
                  'INVALID_INPUT',
                  `The change is ${Buffer.byteLength(text)} bytes; the limit is ${maxBytes}`,
                  {
                    hint: 'Split it into smaller changes or move large content into an artifact',
                  },
                );
              const seq = this.applied + 1;
              this.options.apply(this.state, decision.event, seq);
              this.applied = seq;
              rows.push([seq, text]);
            }
            outcomes.push({ ok: true, value: decision.result });
          } catch (error) {
            outcomes.push({ ok: false, error });
          }
        }
        if (rows.length) {
          const written = await client.query<{ seq: string; anchor: string }>(
            `INSERT INTO to_events (project, store, seq, event) SELECT $1, $2, s, e::jsonb FROM unnest($3::bigint[], $4::text[]) AS t(s, e) RETURNING seq, ${ANCHOR}`,
            [this.project, this.name, rows.map((r) => r[0]), rows.map((r) => r[1])],
          );
          this.anchor = written.rows.find((r) => Number(r.seq) === this.applied)?.anchor ?? '';
          await client.query('SELECT pg_notify($1, $2)', [CHANNEL, `${this.project}\tevents\t${this.name}`]);
        }
      });
    } catch (error) {
      // Nothing of the batch was kept: forget it in memory too (the next read replays), unless
      // the store began at a known point, which it cannot go back to.
      if (this.options.start)
        this.lost = new AppError(
          'STORAGE_CLOSED',
          `Store ${this.name} was opened at event ${this.options.start.seq} and lost a change: open it again`,
          { cause: error },
        );
      this.state = this.options.initial();
      this.applied = 0;
      this.anchor = '';
      for (const item of batch) item.reject(error);
      return;
    }
    settle(batch, outcomes);
  }

  flush(): Promise<void> {
    return this.batcher.flush();
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
  }
}

interface DocPending<T> {
  mutate: (doc: T) => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

class PgDocumentStore<T> implements DocumentStore<T> {
  private doc: T | undefined;
  private version = -1;
  private writes = 0;
  private closed = false;
  private readonly batcher = new Batcher<DocPending<T>>((batch) => this.runBatch(batch));

  constructor(
    private readonly pool: Db,
    private readonly project: string,
    private readonly name: string,
    private readonly defaults: T,
    private readonly parse: (raw: unknown) => T,
    private readonly serialize: (value: unknown) => string,
  ) {}

  get file(): string {
    return `postgres:${this.project}/documents/${this.name}`;
  }

  get writeCount(): number {
    return this.writes;
  }

  /** The stored document (or the defaults) as of `row`. */
  private take(row: { value: unknown; version: string } | undefined): T {
    const version = row ? Number(row.version) : 0;
    if (this.doc === undefined || version !== this.version) {
      this.doc = row ? this.parse(row.value) : structuredClone(this.defaults);
      this.version = version;
    }
    return this.doc;
  }

  async read<R>(select: (doc: Readonly<T>) => R): Promise<R> {
    let r: pg.QueryResult<{ value: unknown; version: string }>;
    try {
      r = await this.pool.query('SELECT value, version FROM to_documents WHERE project = $1 AND name = $2', [
        this.project,
        this.name,
      ]);
    } catch (error) {
      throw unavailable(error, `reading ${this.name}`);
    }
    return select(this.take(r.rows[0]));
  }

  update<R>(mutate: (doc: T) => R): Promise<R> {
    if (this.closed) return Promise.reject(closedError('Document', this.name));
    return new Promise<R>((resolve, reject) => {
      this.batcher.add({ mutate, resolve: resolve as (v: unknown) => void, reject });
    });
  }

  private async runBatch(batch: DocPending<T>[]): Promise<void> {
    const outcomes: Outcome[] = [];
    try {
      await inTransaction(this.pool, `a change to ${this.name}`, async (client) => {
        await client.query(
          "INSERT INTO to_documents (project, name, value, version) VALUES ($1, $2, 'null'::jsonb, 0) ON CONFLICT DO NOTHING",
          [this.project, this.name],
        );
        const r = await client.query<{ value: unknown; version: string }>(
          'SELECT value, version FROM to_documents WHERE project = $1 AND name = $2 FOR UPDATE',
          [this.project, this.name],
        );
        const row = r.rows[0]!;
        const version = Number(row.version);
        let doc = structuredClone(version === 0 ? this.defaults : this.parse(row.value));
        for (const item of batch) {
          // Each mutation on its own copy: one that throws leaves the document as it was.
          const draft = structuredClone(doc);
          try {
            const result = item.mutate(draft);
            doc = draft;
            outcomes.push({ ok: true, value: structuredClone(result) });
          } catch (error) {
            outcomes.push({ ok: false, error });
          }
        }
        await client.query(
          'UPDATE to_documents SET value = $3::jsonb, version = version + 1, updated_at = now() WHERE project = $1 AND name = $2',
          [this.project, this.name, this.serialize(doc)],
        );
        await client.query('SELECT pg_notify($1, $2)', [CHANNEL, `${this.project}\tdocument\t${this.name}`]);
        this.doc = doc;
        this.version = version + 1;
        this.writes++;
      });
    } catch (error) {
      this.doc = undefined;
      for (const item of batch) item.reject(error);
      return;
    }
    settle(batch, outcomes);
  }

  flush(): Promise<void> {
    return this.batcher.flush();
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
  }
}

class PgAppendLog<T> implements AppendLog<T> {
  private closed = false;
  private pending = new Set<Promise<unknown>>();

  constructor(
    private readonly pool: Db,
    private readonly project: string,
    private readonly name: string,
    private readonly serialize: (value: unknown) => string,
    private readonly maxRecordBytes = 1024 * 1024,
  ) {}

  get dir(): string {
    return `postgres:${this.project}/logs/${this.name}`;
  }

  async append(record: T): Promise<void> {
    if (this.closed) throw closedError('Log', this.name);
    const text = this.serialize(record);
    if (Buffer.byteLength(text) > this.maxRecordBytes)
      throw new AppError(
        'INVALID_INPUT',
        `The record is ${Buffer.byteLength(text)} bytes; the limit is ${this.maxRecordBytes}`,
        {
          hint: 'Store large content as an artifact and log a reference to it',
        },
      );
    const write = this.pool.query('INSERT INTO to_logs (project, name, record) VALUES ($1, $2, $3::jsonb)', [
      this.project,
      this.name,
      text,
    ]);
    this.pending.add(write);
    try {
      await write;
      await this.pool.query('SELECT pg_notify($1, $2)', [CHANNEL, `${this.project}\tlog\t${this.name}`]);
    } catch (error) {
      throw unavailable(error, `an append to ${this.name}`);
    } finally {
      this.pending.delete(write);
    }
  }

  async readAll(): Promise<T[]> {
    try {
      const r = await this.pool.query<{ record: T }>(
        'SELECT record FROM to_logs WHERE project = $1 AND name = $2 ORDER BY id',
        [this.project, this.name],
      );
      return r.rows.map((row) => row.record);
    } catch (error) {
      throw unavailable(error, `reading ${this.name}`);
    }
  }

  async stats(): Promise<AppendLogStats> {
    const r = await this.pool.query<{ n: string }>(
      'SELECT count(*) AS n FROM to_logs WHERE project = $1 AND name = $2',
      [this.project, this.name],
    );
    return { segments: 1, records: Number(r.rows[0]?.n ?? 0), skippedLines: 0 };
  }

  async prune(before: number): Promise<number> {
    const r = await this.pool.query(
      'DELETE FROM to_logs WHERE project = $1 AND name = $2 AND at < to_timestamp($3::double precision / 1000)',
      [this.project, this.name, before],
    );
    return r.rowCount ?? 0;
  }

  async flush(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
  }
}

interface LeaseRow {
  key: string;
  holder: string;
  label: string;
  claimed_at: string;
  expires_at: string;
}

/** A lease row's columns, as LeaseRow names them. */
const LEASE_COLUMNS = 'key, holder, label, claimed_at, expires_at';
/** Free rows (no holder) for the keys in $3 of project $1, table $2, in one order. */
const FREE_ROWS = `INSERT INTO to_leases (project, name, ${LEASE_COLUMNS}) SELECT $1, $2, k, '', '', '', 0 FROM unnest($3::text[]) AS k`;

const toLease = (r: LeaseRow): Lease => ({
  key: r.key,
  holder: r.holder,
  label: r.label,
  claimed_at: r.claimed_at,
  expires_at: Number(r.expires_at),
});

/**
 * Leases as rows of to_leases. A take locks the rows of its keys (`FOR UPDATE`, with `SKIP LOCKED`
 * when asked), decides each with the same rule as the state folder (`decideLease`), and writes the
 * taken ones, in one transaction: two servers never both hold a key, and servers taking different
 * keys never wait on each other. A released lease is deleted, so the table holds what is held.
 */
class PgLeaseTable implements LeaseTable {
  constructor(
    private readonly pool: Db,
    private readonly project: string,
    private readonly name: string,
  ) {}

  async take(
    keys: readonly string[],
    holder: string,
    label: string,
    rules: LeaseRules & { skipBusy?: boolean },
  ): Promise<LeaseOutcome[]> {
    if (keys.length === 0) return [];
    // One order for every server's inserts and locks: two takes of overlapping keys never deadlock.
    const unique = [...new Set(keys)].sort();
    // A key nobody holds has no row: make one to lock, committed on its own first, so the
    // transaction below only ever meets row locks (an insert would wait for a concurrent insert of
    // the same key). A row already there is left as it is, however busy: no insert, no wait.
    try {
      await this.pool.query(
        `${FREE_ROWS}
         WHERE NOT EXISTS (SELECT 1 FROM to_leases WHERE project = $1 AND name = $2 AND key = k)
         ORDER BY k ON CONFLICT DO NOTHING`,
        [this.project, this.name, unique],
      );
    } catch (error) {
      throw unavailable(error, `taking ${this.name}`);
    }
    const decided = await inTransaction(this.pool, `taking ${this.name}`, async (client) => {
      const locked = await client.query<LeaseRow>(
        `SELECT ${LEASE_COLUMNS} FROM to_leases WHERE project = $1 AND name = $2 AND key = ANY($3::text[]) ORDER BY key FOR UPDATE${rules.skipBusy ? ' SKIP LOCKED' : ''}`,
        [this.project, this.name, unique],
      );
      const missing = unique.filter((k) => !locked.rows.some((r) => r.key === k));
      if (missing.length) {
        // Skipped (another server holds the row's lock), or freed and deleted since the insert
        // above: the second kind is made again here and taken (its lock is ours).
        const there = await client.query<{ key: string }>(
          'SELECT key FROM to_leases WHERE project = $1 AND name = $2 AND key = ANY($3::text[])',
          [this.project, this.name, missing],
        );
        const gone = missing.filter((k) => !there.rows.some((r) => r.key === k));
        if (gone.length) {
          const made = await client.query<LeaseRow>(
            `${FREE_ROWS} ORDER BY k ON CONFLICT DO NOTHING RETURNING ${LEASE_COLUMNS}`,
            [this.project, this.name, gone],
          );
          locked.rows.push(...made.rows);
        }
      }
      const rows = new Map(locked.rows.map((r) => [r.key, r]));
      const out = new Map<string, LeaseOutcome>();
      const taken: Lease[] = [];
      for (const key of unique) {
        const row = rows.get(key);
        if (!row) {
          out.set(key, { ok: false }); // another server is taking it at this moment
          continue;
        }
        const current = row.holder === '' ? undefined : toLease(row);
        const outcome = decideLease(key, current, holder, label, rules);
        out.set(key, outcome);
        if (outcome.ok) taken.push(outcome.lease);
      }
      if (taken.length)
        await client.query(
          `UPDATE to_leases t SET holder = u.holder, label = u.label, claimed_at = u.claimed_at, expires_at = u.expires_at
           FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[]) AS u(${LEASE_COLUMNS})
           WHERE t.project = $1 AND t.name = $2 AND t.key = u.key`,
          [
            this.project,
            this.name,
            taken.map((l) => l.key),
            taken.map((l) => l.holder),
            taken.map((l) => l.label),
            taken.map((l) => l.claimed_at),
            taken.map((l) => l.expires_at),
          ],
        );
      return out;
    });
    return keys.map((k) => decided.get(k)!);
  }

  async get(key: string): Promise<Lease | undefined> {
    try {
      const r = await this.pool.query<LeaseRow>(
        `SELECT ${LEASE_COLUMNS} FROM to_leases WHERE project = $1 AND name = $2 AND key = $3 AND holder <> ''`,
        [this.project, this.name, key],
      );
      return r.rows[0] ? toLease(r.rows[0]) : undefined;
    } catch (error) {
      throw unavailable(error, `reading ${this.name}`);
    }
  }

  async release(key: string, holder?: string): Promise<void> {
    try {
      await this.pool.query(
        'DELETE FROM to_leases WHERE project = $1 AND name = $2 AND key = $3 AND ($4::text IS NULL OR holder = $4)',
        [this.project, this.name, key, holder ?? null],
      );
    } catch (error) {
      throw unavailable(error, `releasing ${this.name}`);
    }
  }

  async renew(prefix: string, rules: LeaseRules): Promise<void> {
    await inTransaction(this.pool, `renewing ${this.name}`, async (client) => {
      // Rows another server is taking right now are left alone (SKIP LOCKED): renewal never waits.
      await client.query(
        `UPDATE to_leases SET expires_at = $4 WHERE (project, name, key) IN (
           SELECT project, name, key FROM to_leases
           WHERE project = $1 AND name = $2 AND left(holder, length($3)) = $3 AND holder <> ''
           FOR UPDATE SKIP LOCKED)`,
        [this.project, this.name, prefix, rules.now + rules.ttlMs],
      );
      const others = await client.query<LeaseRow>(
        `SELECT ${LEASE_COLUMNS} FROM to_leases
         WHERE project = $1 AND name = $2 AND (holder = '' OR left(holder, length($3)) <> $3)
         FOR UPDATE SKIP LOCKED`,
        [this.project, this.name, prefix],
      );
      const lapsed = others.rows.filter((r) => r.holder === '' || !rules.live(toLease(r), rules.now));
      if (lapsed.length)
        await client.query(
          'DELETE FROM to_leases WHERE project = $1 AND name = $2 AND key = ANY($3::text[])',
          [this.project, this.name, lapsed.map((r) => r.key)],
        );
    });
  }
}

/** What storage.ts hands out, on the database. */
export interface PgBackend {
  events<S, E>(
    name: string,
    options: Pick<EventStoreOptions<S, E>, 'initial' | 'apply' | 'start'>,
  ): EventStore<S, E>;
  /** The local folder for what is derived from an event store (its match index). */
  eventsDir(name: string): string;
  /** An event store's events from `seq` on (inclusive), at most `limit`, with their anchors, oldest first. */
  eventsFrom(name: string, seq: number, limit: number): Promise<AnchoredEvent[]>;
  document<T>(name: string, defaults: T, parse?: (raw: unknown) => T): DocumentStore<T>;
  documentNames(): Promise<string[]>;
  log<T>(name: string): AppendLog<T>;
  leases(name: string): LeaseTable;
  /** The breaker in front of the database: closed, or open since when and until when. */
  health(): GateStatus;
  /** Hears every change committed to this project by any server (LISTEN/NOTIFY). */
  onChange(listener: (change: PgChange) => void): () => void;
  readonly recoveries: readonly RecoveryEvent[];
  close(): Promise<void>;
}

/**
 * Names a database and project for the local folder of what is derived from its stores: the URL
 * without its password (changing the password keeps the folder), and the project.
 */
function cacheKey(url: string, project: string): string {
  let named = url;
  try {
    const u = new URL(url);
    u.password = '';
    named = u.toString();
  } catch {
    // not a URL pg could parse either; the string names it
  }
  return createHash('sha256').update(`${named}\n${project}`).digest('hex').slice(0, 16);
}

/**
 * Connects, applies missing migrations and listens for changes.
 * @throws AppError CONFIG_INVALID when the database cannot be reached or migrated.
 */
export async function openPgBackend(options: PgStorageOptions): Promise<PgBackend> {
  const pool = new driver.Pool({
    connectionString: options.url,
    // Who holds a connection, as pg_stat_activity shows it to a database administrator.
    application_name: `task-orchestrator ${options.project}`.slice(0, 63),
    max: options.poolSize ?? 4,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  // A connection that dies while idle (the database restarted) must not crash the process.
  pool.on('error', (error) =>
    options.logger.warn('database: an idle connection failed', { error: error.message }),
  );
  // Nor one that dies while a call holds it: pg emits 'error' on the client (the call in hand also
  // fails with the error), and an 'error' event nobody listens to ends the process.
  pool.on('connect', (client) => client.on('error', () => undefined));
  try {
    await migrate(pool, options.logger);
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw new AppError(
      'CONFIG_INVALID',
      `Cannot use the database: ${error instanceof Error ? error.message : String(error)}`,
      {
        hint: 'Check TASK_ORCHESTRATOR_DATABASE_URL, that PostgreSQL runs, and that this user may create tables (task-orchestrator doctor)',
        cause: error,
      },
    );
  }
  const gate = new DatabaseGate({ logger: options.logger });
  const db = gated(pool, gate);
  const listeners = new Set<(change: PgChange) => void>();
  let listener: pg.Client | undefined;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;
  let backoff = 250;
  const listen = async () => {
    if (closed || options.listen === false) return;
    const client = new driver.Client({
      connectionString: options.url,
      connectionTimeoutMillis: 5_000,
      application_name: `task-orchestrator ${options.project}`.slice(0, 63),
    });
    client.on('error', () => undefined);
    client.on('notification', (n) => {
      const [project, kind, name] = (n.payload ?? '').split('\t');
      if (project !== options.project || !name) return;
      for (const l of listeners) l({ project, kind: kind as PgChange['kind'], name });
    });
    client.on('end', () => {
      if (closed) return;
      listener = undefined;
      // Reconnect with backoff (the database restarted, or this connection was terminated).
      retry = setTimeout(() => void listen(), backoff);
      retry.unref();
      backoff = Math.min(backoff * 2, 10_000);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
      listener = client;
      backoff = 250;
    } catch {
      await client.end().catch(() => undefined);
    }
  };
  await listen();
  const events = new Map<string, EventStore<unknown, unknown>>();
  const documents = new Map<string, DocumentStore<unknown>>();
  const logs = new Map<string, AppendLog<unknown>>();
  const leaseTables = new Map<string, LeaseTable>();
  const serialize = (v: unknown) => options.serialize(v);
  const cache = path.join(options.stateDir, 'cache', `db-${cacheKey(options.url, options.project)}`);
  const eventsDir = (name: string) => path.join(cache, 'events', name);
  return {
    recoveries: [],
    events<S, E>(
      name: string,
      o: Pick<EventStoreOptions<S, E>, 'initial' | 'apply' | 'start'>,
    ): EventStore<S, E> {
      let store = events.get(name) as EventStore<S, E> | undefined;
      if (!store) {
        store = new PgEventStore<S, E>(db, options.project, name, eventsDir(name), { ...o, serialize });
        events.set(name, store);
      }
      return store;
    },
    eventsDir,
    async eventsFrom(name: string, seq: number, limit: number): Promise<AnchoredEvent[]> {
      try {
        const r = await db.query<{ seq: string; event: unknown; anchor: string }>(
          `${EVENTS} AND seq >= $3 ORDER BY seq LIMIT $4`,
          [options.project, name, seq, limit],
        );
        return r.rows.map((row) => ({ seq: Number(row.seq), event: row.event, anchor: row.anchor }));
      } catch (error) {
        throw unavailable(error, `reading ${name}`);
      }
    },
    document<T>(name: string, defaults: T, parse?: (raw: unknown) => T): DocumentStore<T> {
      let store = documents.get(name) as DocumentStore<T> | undefined;
      if (!store) {
        store = new PgDocumentStore<T>(
          db,
          options.project,
          name,
          defaults,
          parse ?? ((raw) => raw as T),
          serialize,
        );
        documents.set(name, store);
      }
      return store;
    },
    async documentNames() {
      const r = await db
        .query<{ name: string }>('SELECT name FROM to_documents WHERE project = $1 ORDER BY name', [
          options.project,
        ])
        .catch((error: unknown) => {
          throw unavailable(error, 'listing documents');
        });
      return r.rows.map((row) => row.name);
    },
    log<T>(name: string): AppendLog<T> {
      let log = logs.get(name) as AppendLog<T> | undefined;
      if (!log) {
        log = new PgAppendLog<T>(db, options.project, name, serialize);
        logs.set(name, log);
      }
      return log;
    },
    leases(name: string): LeaseTable {
      let table = leaseTables.get(name);
      if (!table) {
        table = new PgLeaseTable(db, options.project, name);
        leaseTables.set(name, table);
      }
      return table;
    },
    health: () => gate.status(),
    onChange(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    async close() {
      closed = true;
      if (retry) clearTimeout(retry);
      await Promise.all([...events.values()].map((e) => e.close()));
      await Promise.all([...documents.values()].map((d) => d.close()));
      await Promise.all([...logs.values()].map((l) => l.close()));
      await listener?.end().catch(() => undefined);
      await pool.end().catch(() => undefined);
      gate.shutdown();
    },
  };
}
