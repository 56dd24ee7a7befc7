/**
 * The state folder of one project: named documents and append-only logs under one directory,
 * opened once per process and closed (flushed) on shutdown.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { AppError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { createAppendLog } from './appendLog.js';
import type { AppendLog } from './appendLog.js';
import type { RecoveryEvent } from './atomicFile.js';
import { createDocumentStore } from './documentStore.js';
import type { DocumentStore } from './documentStore.js';
import { createEventStore } from './eventStore.js';
import type { EventStore, EventStoreOptions, AnchoredEvent } from './eventStore.js';
import { documentLeaseTable, parseLeaseDoc } from './leaseTable.js';
import type { LeaseDoc, LeaseTable } from './leaseTable.js';
import type { GateStatus } from './postgres/gate.js';

export interface StorageOptions {
  stateDir: string;
  logger: Logger;
  /**
   * Applied to every string written to any document, log or event store (the safety layer's
   * secret redactor), so secrets typed into prompts or outputs never reach a state file.
   * Default: none.
   */
  redact?: (text: string) => string;
  /**
   * Keep documents, logs and event stores in PostgreSQL instead of files, under this project
   * (postgres/pgStorage.ts); the state folder still holds what is local to the machine.
   */
  database?: {
    url: string;
    project: string;
    /** Hear other servers' changes (LISTEN); a process that lives for one event does not. Default true. */
    listen?: boolean;
  };
}

/** Serialises a record for a state file: JSON, every string passed through the redactor. */
export type Serialize = (value: unknown, indent?: number) => string;

function serializerFor(redact: ((text: string) => string) | undefined): Serialize {
  if (!redact) return (value, indent) => JSON.stringify(value, undefined, indent);
  return (value, indent) => {
    const plain = JSON.stringify(value, undefined, indent);
    // The common case: nothing in the record looks like a secret, so it is written as is.
    if (redact(plain) === plain) return plain;
    return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'string' ? redact(v) : v), indent);
  };
}

export interface Storage {
  readonly stateDir: string;
  /** Names of the documents there are (whether opened by this process or not). */
  documentNames(): Promise<string[]>;
  /** A JSON document `<stateDir>/<name>.json`; the same name returns the same store. */
  document<T>(name: string, defaults: T, parse?: (raw: unknown) => T): DocumentStore<T>;
  /** An append-only log under `<stateDir>/logs/<name>/`; the same name returns the same log. */
  log<T>(name: string): AppendLog<T>;
  /**
   * An event-sourced store under `<stateDir>/events/<name>/`; the same name returns the same store
   * (`start` counts only when it is first opened).
   */
  events<S, E>(
    name: string,
    options: Pick<EventStoreOptions<S, E>, 'initial' | 'apply' | 'start'>,
  ): EventStore<S, E>;
  /**
   * The local folder of an event store: its segments in the state folder; on the database, a
   * folder of the state folder for what is derived from it (the match index), one per database
   * and project.
   */
  eventsDir(name: string): string;
  /**
   * An event store's events from `seq` on (inclusive), at most `limit`, oldest first, each with its anchor
   * (StorePosition): postgres only; the folder's readers read the segments.
   */
  eventsFrom?: (name: string, seq: number, limit: number) => Promise<AnchoredEvent[]>;
  /**
   * Leases (claims): a document `<stateDir>/<name>.json` in the state folder, rows taken with
   * `FOR UPDATE SKIP LOCKED` on the database; the same name returns the same table.
   */
  leases(name: string): LeaseTable;
  /** Recoveries performed since start (also logged). */
  readonly recoveries: readonly RecoveryEvent[];
  /** Flushes everything; further writes are refused. */
  close(): Promise<void>;
  /** The database's breaker (postgres only): closed, or open since when and until when. */
  health?: () => GateStatus;
  /** Where the stores live: `files` (the state folder) or `postgres`. */
  readonly backend: 'files' | 'postgres';
  /**
   * Hears changes other processes commit (the database announces them); undefined for files,
   * whose readers look at the files.
   */
  onChange?: (
    listener: (change: { kind: 'events' | 'document' | 'log'; name: string }) => void,
  ) => () => void;
}

const NAME = /^[a-z][a-z0-9_-]{0,63}$/;

function checkName(kind: string, name: string): void {
  if (!NAME.test(name)) throw new AppError('INVALID_INPUT', `Invalid ${kind} name "${name}"`);
}

/**
 * Creates the state folder if needed and checks it is writable.
 * @throws AppError CONFIG_INVALID when the folder cannot be created or written.
 */
export async function openStorage(options: StorageOptions): Promise<Storage> {
  const { stateDir, logger } = options;
  try {
    await fs.mkdir(stateDir, { recursive: true, mode: 0o700 });
    await fs.access(stateDir, fs.constants.W_OK);
    // Keep state out of the user's repository by default.
    await fs
      .writeFile(path.join(stateDir, '.gitignore'), '*\n', { flag: 'wx' })
      .catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw e;
      });
  } catch (error) {
    throw new AppError('CONFIG_INVALID', `State folder ${stateDir} is not writable`, {
      hint: 'Set TASK_ORCHESTRATOR_HOME to a writable folder',
      cause: error,
    });
  }
  const documents = new Map<string, DocumentStore<unknown>>();
  const logs = new Map<string, AppendLog<unknown>>();
  const eventStores = new Map<string, EventStore<unknown, unknown>>();
  const leaseTables = new Map<string, LeaseTable>();
  const recoveries: RecoveryEvent[] = [];
  const serialize = serializerFor(options.redact);
  if (options.database) {
    const { openPgBackend } = await import('./postgres/pgStorage.js');
    const db = await openPgBackend({
      url: options.database.url,
      project: options.database.project,
      listen: options.database.listen ?? true,
      stateDir,
      logger,
      serialize,
    });
    return {
      stateDir,
      backend: 'postgres',
      recoveries: db.recoveries,
      documentNames: () => db.documentNames(),
      document(name, defaults, parse) {
        checkName('document', name);
        return db.document(name, defaults, parse);
      },
      log(name) {
        checkName('log', name);
        return db.log(name);
      },
      events(name, o) {
        checkName('event store', name);
        return db.events(name, o);
      },
      eventsDir(name) {
        checkName('event store', name);
        return db.eventsDir(name);
      },
      eventsFrom(name, seq, limit) {
        checkName('event store', name);
        return db.eventsFrom(name, seq, limit);
      },
      leases(name) {
        checkName('lease table', name);
        return db.leases(name);
      },
      onChange: (listener) => db.onChange(listener),
      health: () => db.health(),
      close: () => db.close(),
    };
  }

  const files: Storage = {
    backend: 'files',
    async documentNames() {
      const files = await fs.readdir(stateDir).catch(() => [] as string[]);
      return files.flatMap((f) => {
        const m = /^([a-z0-9][a-z0-9_-]*)\.json$/.exec(f);
        return m ? [m[1]!] : [];
      });
    },
    stateDir,
    recoveries,
    document<T>(name: string, defaults: T, parse?: (raw: unknown) => T): DocumentStore<T> {
      checkName('document', name);
      let store = documents.get(name) as DocumentStore<T> | undefined;
      if (!store) {
        store = createDocumentStore<T>({
          file: path.join(stateDir, `${name}.json`),
          defaults,
          parse,
          logger,
          serialize,
          onRecovery: (event) => recoveries.push(event),
        });
        documents.set(name, store);
      }
      return store;
    },
    log<T>(name: string): AppendLog<T> {
      checkName('log', name);
      let log = logs.get(name) as AppendLog<T> | undefined;
      if (!log) {
        log = createAppendLog<T>({ dir: path.join(stateDir, 'logs', name), logger, serialize });
        logs.set(name, log);
      }
      return log;
    },
    eventsDir(name: string): string {
      checkName('event store', name);
      return path.join(stateDir, 'events', name);
    },
    events<S, E>(
      name: string,
      options: Pick<EventStoreOptions<S, E>, 'initial' | 'apply' | 'start'>,
    ): EventStore<S, E> {
      checkName('event store', name);
      let store = eventStores.get(name) as EventStore<S, E> | undefined;
      if (!store) {
        store = createEventStore<S, E>({
          ...options,
          dir: path.join(stateDir, 'events', name),
          logger,
          serialize,
          onRecovery: (event) => recoveries.push(event),
        });
        eventStores.set(name, store);
      }
      return store;
    },
    leases(name: string): LeaseTable {
      checkName('lease table', name);
      let table = leaseTables.get(name);
      if (!table) {
        table = documentLeaseTable(files.document<LeaseDoc>(name, { leases: {} }, parseLeaseDoc));
        leaseTables.set(name, table);
      }
      return table;
    },
    async close() {
      await Promise.all([...eventStores.values()].map((e) => e.close()));
      await Promise.all([...documents.values()].map((d) => d.close()));
      await Promise.all([...logs.values()].map((l) => l.close()));
    },
  };
  return files;
}
