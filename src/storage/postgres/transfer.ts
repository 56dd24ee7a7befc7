/**
 * Moving a project between a state folder and a database (`task-orchestrator migrate`): every
 * event store, document and append-only log is copied, then read back from where it landed and
 * compared with the source, store by store, record by record. Nothing is overwritten: the target
 * must hold nothing of this project yet.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import driver from './pgDriver.js';
import { AppError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { writeTextAtomic } from '../atomicFile.js';
import { openStorage } from '../storage.js';
import type { Storage } from '../storage.js';

export interface TransferCounts {
  events: Record<string, number>;
  documents: string[];
  logs: Record<string, number>;
}

interface Contents {
  events: Map<string, unknown[]>;
  documents: Map<string, unknown>;
  logs: Map<string, unknown[]>;
}

const NAME = /^[a-z0-9][a-z0-9_-]*$/;
/**
 * JSON files of a state folder that are not moved: the project's own rules (not a store), and the
 * claims (leases of running processes, which lapse within 30 s; the database keeps them as rows).
 */
const NOT_DOCUMENTS = new Set(['operations', 'claims']);

/** JSON with object keys sorted: equal contents compare equal whatever order a store kept keys in. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)),
        )
      : v,
  );
}

async function dirNames(dir: string): Promise<string[]> {
  try {
    return (await fs.readdir(dir, { withFileTypes: true }))
      .filter((e) => e.isDirectory() && NAME.test(e.name))
      .map((e) => e.name);
  } catch {
    return [];
  }
}

/** The stores a state folder holds, by kind. */
async function folderStores(
  stateDir: string,
): Promise<{ events: string[]; documents: string[]; logs: string[] }> {
  const files = await fs.readdir(stateDir).catch(() => [] as string[]);
  return {
    events: await dirNames(path.join(stateDir, 'events')),
    logs: await dirNames(path.join(stateDir, 'logs')),
    documents: files
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.slice(0, -5))
      .filter((n) => NAME.test(n) && !NOT_DOCUMENTS.has(n)),
  };
}

const collect = { initial: () => [] as unknown[], apply: (s: unknown[], e: unknown) => void s.push(e) };

/** Everything of one project in an opened storage. */
async function contentsOf(
  storage: Storage,
  stores: { events: string[]; documents: string[]; logs: string[] },
): Promise<Contents> {
  const out: Contents = { events: new Map(), documents: new Map(), logs: new Map() };
  for (const name of stores.events)
    out.events.set(name, await storage.events(name, collect).read((s) => [...s]));
  for (const name of stores.documents)
    out.documents.set(name, await storage.document<unknown>(name, null).read((d) => structuredClone(d)));
  for (const name of stores.logs) out.logs.set(name, await storage.log(name).readAll());
  return out;
}

/** Throws unless `b` holds exactly what `a` holds. */
function verify(a: Contents, b: Contents): void {
  const differ = (what: string) => {
    throw new AppError('STORAGE_CORRUPT', `The copy differs from the source in ${what}`, {
      hint: 'Nothing was removed from the source; look at the target before trying again',
    });
  };
  for (const kind of ['events', 'documents', 'logs'] as const) {
    const src = a[kind] as Map<string, unknown>;
    const dst = b[kind] as Map<string, unknown>;
    if (src.size !== dst.size) differ(`the number of ${kind} stores`);
    for (const [name, value] of src) {
      const copy = dst.get(name);
      if (Array.isArray(value) && (!Array.isArray(copy) || copy.length !== value.length))
        differ(`${kind} ${name} (${Array.isArray(copy) ? copy.length : 0} of ${value.length})`);
      if (canonical(copy) !== canonical(value)) differ(`${kind} ${name}`);
    }
  }
}

/** The project's stores on the database (opening it applies missing migrations). */
const onDatabase = (o: {
  stateDir: string;
  url: string;
  project: string;
  logger: Logger;
}): Promise<Storage> =>
  openStorage({ stateDir: o.stateDir, logger: o.logger, database: { url: o.url, project: o.project } });

const countsOf = (c: Contents): TransferCounts => ({
  events: Object.fromEntries([...c.events].map(([n, e]) => [n, e.length])),
  documents: [...c.documents.keys()],
  logs: Object.fromEntries([...c.logs].map(([n, l]) => [n, l.length])),
});

/** Copies the project's stores from a state folder into the database, then checks the copy. */
export async function folderToDatabase(options: {
  stateDir: string;
  url: string;
  project: string;
  logger: Logger;
}): Promise<TransferCounts> {
  const stores = await folderStores(options.stateDir);
  const source = await openStorage({ stateDir: options.stateDir, logger: options.logger });
  let contents: Contents;
  try {
    contents = await contentsOf(source, stores);
  } finally {
    await source.close();
  }
  // The schema first (opening the database migrates it), then one transaction for the copy.
  await (await onDatabase(options)).close();
  const pool = new driver.Pool({ connectionString: options.url, max: 1 });
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  try {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`migrate\t${options.project}`]);
      const held = await client.query<{ n: string }>(
        `SELECT (SELECT count(*) FROM to_events WHERE project = $1) + (SELECT count(*) FROM to_documents WHERE project = $1) + (SELECT count(*) FROM to_logs WHERE project = $1) AS n`,
        [options.project],
      );
      if (Number(held.rows[0]?.n ?? 0) > 0)
        throw new AppError('CONFLICT', `The database already holds project "${options.project}"`, {
          hint: 'migrate never overwrites: use another TASK_ORCHESTRATOR_PROJECT, or remove that project from the database first',
        });
      for (const [name, events] of contents.events)
        for (let i = 0; i < events.length; i += 5000) {
          const part = events.slice(i, i + 5000);
          await client.query(
            'INSERT INTO to_events (project, store, seq, event) SELECT $1, $2, s, e::jsonb FROM unnest($3::bigint[], $4::text[]) AS t(s, e)',
            [options.project, name, part.map((_, j) => i + j + 1), part.map((e) => JSON.stringify(e))],
          );
        }
      for (const [name, value] of contents.documents)
        await client.query(
          'INSERT INTO to_documents (project, name, value, version) VALUES ($1, $2, $3::jsonb, 1)',
          [options.project, name, JSON.stringify(value)],
        );
      for (const [name, records] of contents.logs)
        for (let i = 0; i < records.length; i += 5000)
          await client.query(
            'INSERT INTO to_logs (project, name, record) SELECT $1, $2, r::jsonb FROM unnest($3::text[]) WITH ORDINALITY AS t(r, o) ORDER BY o',
            [options.project, name, records.slice(i, i + 5000).map((r) => JSON.stringify(r))],
          );
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  } finally {
    await pool.end();
  }
  const check = await onDatabase(options);
  try {
    verify(contents, await contentsOf(check, stores));
  } finally {
    await check.close();
  }
  return countsOf(contents);
}

/** Copies the project's stores from the database into a state folder that holds none, then checks the copy. */
export async function databaseToFolder(options: {
  url: string;
  project: string;
  stateDir: string;
  logger: Logger;
}): Promise<TransferCounts> {
  const existing = await folderStores(options.stateDir);
  if (existing.events.length + existing.documents.length + existing.logs.length > 0)
    throw new AppError('CONFLICT', `${options.stateDir} already holds stores`, {
      hint: 'migrate never overwrites: give an empty folder (or one that does not exist yet)',
    });
  const pool = new driver.Pool({ connectionString: options.url, max: 1 });
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  let stores: { events: string[]; documents: string[]; logs: string[] };
  try {
    const names = async (table: string, column: string) =>
      (
        await pool.query<{ name: string }>(
          `SELECT DISTINCT ${column} AS name FROM ${table} WHERE project = $1 ORDER BY 1`,
          [options.project],
        )
      ).rows.map((r) => r.name);
    stores = {
      events: await names('to_events', 'store'),
      documents: await names('to_documents', 'name'),
      logs: await names('to_logs', 'name'),
    };
  } finally {
    await pool.end();
  }
  if (stores.events.length + stores.documents.length + stores.logs.length === 0)
    throw new AppError('NOT_FOUND', `The database holds nothing of project "${options.project}"`, {
      hint: 'Check TASK_ORCHESTRATOR_PROJECT (the project name the team uses)',
    });
  const source = await onDatabase(options);
  let contents: Contents;
  try {
    contents = await contentsOf(source, stores);
  } finally {
    await source.close();
  }
  const target = await openStorage({ stateDir: options.stateDir, logger: options.logger });
  try {
    for (const [name, events] of contents.events) {
      const store = target.events<null, unknown>(name, { initial: () => null, apply: () => undefined });
      // Queued together, they are written in order as one append.
      await Promise.all(events.map((event) => store.transact(() => ({ event, result: undefined }))));
    }
    // A document is its JSON file, written as the document store writes it (atomically).
    for (const [name, value] of contents.documents)
      await writeTextAtomic(path.join(options.stateDir, `${name}.json`), JSON.stringify(value));
    for (const [name, records] of contents.logs) {
      const log = target.log(name);
      await Promise.all(records.map((r) => log.append(r)));
    }
  } finally {
    await target.close();
  }
  const check = await openStorage({ stateDir: options.stateDir, logger: options.logger });
  try {
    verify(contents, await contentsOf(check, stores));
  } finally {
    await check.close();
  }
  return countsOf(contents);
}
