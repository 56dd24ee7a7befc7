/**
 * A JSON document on disk shared by several server processes.
 *
 * - lowdb holds the document in memory; our adapter makes its writes atomic and fsynced and keeps
 *   the last good copy (see atomicFile.ts). We do not use lowdb's presets: they switch to memory
 *   under NODE_ENV=test.
 * - `update(fn)` is a read-modify-write under a cross-process lock, on a copy re-read from disk if
 *   another process changed it, so no update is lost.
 * - Updates arriving together are coalesced: one lock, one serialisation, one fsync for the batch.
 *   Each promise resolves only after the batch is durable, so an acknowledged write survives kill -9.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { Low } from 'lowdb';
import type { Adapter } from 'lowdb';
import { AppError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { readJsonWithRecovery, removeStaleTempFiles, writeTextAtomic } from './atomicFile.js';
import type { RecoveryEvent } from './atomicFile.js';
import { Batcher } from './batcher.js';
import { withFileLock } from './fileLock.js';

const defaultSerialize = (value: unknown, indent?: number): string =>
  JSON.stringify(value, undefined, indent);

export interface DocumentStoreOptions<T> {
  file: string;
  /** The document when the file does not exist yet. Cloned, never shared. */
  defaults: T;
  /** Validates (and may migrate) what was read. Throwing marks the file unreadable. Default: identity. */
  parse?: (raw: unknown) => T;
  logger: Logger;
  /** Serialises what is written (the storage layer's, which passes strings through the secret redactor). Default JSON.stringify. */
  serialize?: (value: unknown, indent?: number) => string;
  /** Called once per recovery, besides the log line. */
  onRecovery?: (event: RecoveryEvent) => void;
  /** Pretty-print the file (2-space indent). Default false: compact JSON is several times faster to write. */
  pretty?: boolean;
  lockStaleMs?: number;
  lockWaitMs?: number;
}

export interface DocumentStore<T> {
  readonly file: string;
  /** Runs `select` on the current document (re-read first if another process changed it). Do not mutate. */
  read<R>(select: (doc: Readonly<T>) => R): Promise<R>;
  /**
   * Applies `mutate` to the latest document and persists it. Resolves with `mutate`'s result (cloned)
   * once the write is durable. If `mutate` throws, its changes are discarded and the promise rejects.
   */
  update<R>(mutate: (doc: T) => R): Promise<R>;
  /** Resolves when every update queued so far is on disk. */
  flush(): Promise<void>;
  /** Flushes, then refuses further updates. */
  close(): Promise<void>;
  /** How many serialised writes happened (for tests and benchmarks of coalescing). */
  readonly writeCount: number;
}

interface Pending<T> {
  mutate: (doc: T) => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

interface FileIdentity {
  ino: number;
  size: number;
  mtimeMs: number;
}

class DurableJsonAdapter<T> implements Adapter<T> {
  constructor(private readonly options: DocumentStoreOptions<T>) {}

  async read(): Promise<T | null> {
    const { file, logger } = this.options;
    const outcome = await readJsonWithRecovery(file, this.options.parse ?? ((raw) => raw as T));
    if (outcome.kind === 'missing') return null;
    if (outcome.kind === 'ok') return outcome.value;
    const { event } = outcome;
    if (event.action === 'backup') {
      logger.warn('storage: recovered document from its last good copy', { ...event });
    } else {
      logger.error('storage: document unreadable and no good copy; starting from defaults', { ...event });
    }
    this.options.onRecovery?.(event);
    return outcome.value ?? null;
  }

  async write(data: T): Promise<void> {
    const text = (this.options.serialize ?? defaultSerialize)(data, this.options.pretty ? 2 : undefined);
    await writeTextAtomic(this.options.file, text);
  }
}

class FileDocumentStore<T> implements DocumentStore<T> {
  readonly file: string;
  private readonly db: Low<T>;
  private readonly options: DocumentStoreOptions<T>;
  private known: FileIdentity | null = null;
  private loaded = false;
  private readonly batcher = new Batcher<Pending<T>>((batch) => this.flushBatch(batch));
  private closed = false;
  private writes = 0;

  private readonly adapter: DurableJsonAdapter<T>;
  /** Batches being applied and written now (reads do not refresh meanwhile). */
  private writing = 0;
  /** Bumped whenever the in-memory copy is replaced or written. */
  private version = 0;

  constructor(options: DocumentStoreOptions<T>) {
    this.options = options;
    this.file = options.file;
    this.adapter = new DurableJsonAdapter(options);
    this.db = new Low<T>(this.adapter, structuredClone(options.defaults));
  }

  get writeCount(): number {
    return this.writes;
  }

  /** Checked on every read: a sync stat costs microseconds, an async one a thread-pool round trip. */
  private identity(): FileIdentity | null {
    // throwIfNoEntry: a missing file is common (nothing written yet) and an exception per read is costly.
    const s = statSync(this.file, { throwIfNoEntry: false });
    return s ? { ino: s.ino, size: s.size, mtimeMs: s.mtimeMs } : null;
  }

  /** Re-reads the file if it is not the version we last saw. */
  private async refresh(underLock = false): Promise<void> {
    const now = this.identity();
    const same =
      this.loaded &&
      now !== null &&
      this.known !== null &&
      now.ino === this.known.ino &&
      now.size === this.known.size &&
      now.mtimeMs === this.known.mtimeMs;
    if (same) return;
    if (now === null && this.loaded && this.known === null) return; // never written, nothing new
    await this.reload(underLock);
  }

  /** @param underLock the caller holds the file lock: what it reads is the newest, always taken. */
  private async reload(underLock = false): Promise<void> {
    // Read aside, then swap: a reader running meanwhile sees the old document, never a half one
    // (lowdb's own read() empties the data first, and keeps it when the file is missing).
    // A write or another reload that finished meanwhile left a newer copy: keep that one.
    const version = this.version;
    const known = this.identity();
    const fresh = await this.adapter.read();
    if (!underLock && this.version !== version) return;
    this.db.data = fresh ?? structuredClone(this.options.defaults);
    this.known = known;
    this.loaded = true;
    this.version++;
  }

  async read<R>(select: (doc: Readonly<T>) => R): Promise<R> {
    // While this process writes, its in-memory copy is the newest: re-reading the file then could
    // put an older copy in memory under the new file's identity.
    if (this.writing === 0) await this.refresh();
    return select(this.db.data);
  }

  update<R>(mutate: (doc: T) => R): Promise<R> {
    if (this.closed) {
      return Promise.reject(
        new AppError('STORAGE_CLOSED', `Storage for ${path.basename(this.file)} is closed`, {
          hint: 'The server is shutting down; retry against a running server',
        }),
      );
    }
    return new Promise<R>((resolve, reject) => {
      this.batcher.add({ mutate, resolve: resolve as (v: unknown) => void, reject });
    });
  }

  private async flushBatch(batch: Pending<T>[]): Promise<void> {
    if (batch.length === 0) return;
    const failed = new Map<Pending<T>, unknown>();
    const results = new Map<Pending<T>, unknown>();
    try {
      await withFileLock(
        this.file,
        async () => {
          if (!this.loaded) await removeStaleTempFiles(this.file);
          await this.refresh(true);
          this.writing++;
          try {
            // Apply in order. A mutation that throws may have half-changed the document: reload the
            // disk copy and replay the others without it.
            for (;;) {
              results.clear();
              let restarted = false;
              for (const item of batch) {
                if (failed.has(item)) continue;
                try {
                  results.set(item, item.mutate(this.db.data));
                } catch (error) {
                  failed.set(item, error);
                  await this.reload(true);
                  restarted = true;
                  break;
                }
              }
              if (!restarted) break;
            }
            if (results.size > 0) {
              await this.db.write();
              this.version++;
              this.writes++;
              this.known = this.identity();
            }
          } finally {
            this.writing--;
          }
        },
        { logger: this.options.logger, staleMs: this.options.lockStaleMs, waitMs: this.options.lockWaitMs },
      );
    } catch (error) {
      // Lock or I/O failure: nothing of this batch is durable. Drop our in-memory changes too.
      this.loaded = false;
      this.options.logger.error('storage: write failed', { file: this.file, error });
      for (const item of batch) item.reject(error);
      return;
    }
    for (const item of batch) {
      if (failed.has(item)) item.reject(failed.get(item));
      else item.resolve(structuredClone(results.get(item)));
    }
  }

  flush(): Promise<void> {
    return this.batcher.flush();
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
  }
}

/** Opens (lazily; nothing is read until first use) a shared JSON document. */
export function createDocumentStore<T>(options: DocumentStoreOptions<T>): DocumentStore<T> {
  return new FileDocumentStore(options);
}
