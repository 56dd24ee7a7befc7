/**
 * An event-sourced store shared by several processes: state lives in memory, every change is one
 * event appended to a JSONL segment of the writing process, and every process replays the events
 * of all processes in the order of a global sequence number.
 *
 * Why not a document: a document store re-serialises everything on each write, so writes slow down
 * as data grows (10,000 tasks means ~5 MB per write). Here a write costs one small append and one
 * fdatasync, whatever the size of the state.
 *
 * - `transact(decide)` runs `decide` on the latest state under a cross-process lock. `decide` does
 *   not mutate; it returns the event to append (or none) and a result. Transactions arriving
 *   together share one lock, one write and one fdatasync, and resolve once durable.
 * - One transaction is one line, so a process killed mid-write loses its whole transaction, never
 *   half of one; the torn line is skipped on read and its sequence number is reused.
 * - Readers catch up without the lock, applying only the gap-free prefix of sequence numbers.
 */
import type { RecoveryEvent } from './atomicFile.js';
import { randomBytes } from 'node:crypto';
import { promises as fs, readdirSync, statSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { AppError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { Batcher } from './batcher.js';
import { withFileLock } from './fileLock.js';

const defaultSerialize = (value: unknown, indent?: number): string =>
  JSON.stringify(value, undefined, indent);

export interface StoredEvent<E> {
  seq: number;
  event: E;
}

export interface EventStoreOptions<S, E> {
  dir: string;
  logger: Logger;
  /** Serialises what is written (the storage layer's, which passes strings through the secret redactor). Default JSON.stringify. */
  serialize?: (value: unknown, indent?: number) => string;
  /** Called once per unreadable line set aside or torn tail found. */
  onRecovery?: (event: RecoveryEvent) => void;
  /** The empty state. */
  initial: () => S;
  /** Applies one event to the state in place. Must be deterministic and must not throw for stored events. */
  apply: (state: S, event: E, seq: number) => void;
  /** Largest event, serialised. Default 4 MiB. */
  maxEventBytes?: number;
  /** Start a new segment past this size. Default 16 MiB. */
  maxSegmentBytes?: number;
  lockStaleMs?: number;
  lockWaitMs?: number;
  /**
   * Start from a known point instead of the empty state: the state after event `seq`, with each
   * segment read up to its offset (a match index's position, immune/matchIndex.ts). Only what
   * follows is read.
   */
  start?: { seq: number; offsets: Readonly<Record<string, number>>; state: S };
}

/**
 * Where a store has read to: the last applied event and, per segment, the bytes consumed (a
 * database has no segments; `anchor` then names the event at `seq` as the database stored it).
 */
export interface StorePosition {
  seq: number;
  offsets: Record<string, number>;
  anchor?: string;
}

/** An event as a database holds it, with its anchor (StorePosition). */
export interface AnchoredEvent {
  seq: number;
  event: unknown;
  anchor: string;
}

export interface Decision<E, R> {
  /** The event to append; none leaves the store unchanged. */
  event?: E;
  result: R;
}

export interface EventStore<S, E> {
  /** Runs `select` on the caught-up state. Do not mutate. */
  read<R>(select: (state: Readonly<S>, version: number) => R): Promise<R>;
  /**
   * Decides on the latest state under the lock and appends the decided event durably.
   * Rejects with whatever `decide` throws (nothing is appended then).
   */
  transact<R>(decide: (state: Readonly<S>) => Decision<E, R>): Promise<R>;
  /** The sequence number of the last applied event (0 when empty). */
  readonly version: number;
  /**
   * The folder of its segments (on a database: a folder of the state folder for what is derived
   * from the store, such as the match index).
   */
  readonly dir: string;
  /**
   * Where the state read last stands (call it inside `read`'s select to get the state's own):
   * undefined while events wait ahead of a gap, when the offsets would claim more than was applied.
   */
  position(): StorePosition | undefined;
  flush(): Promise<void>;
  close(): Promise<void>;
}

interface SegmentCursor {
  offset: number;
}

interface Pending<S, E> {
  decide: (state: Readonly<S>) => Decision<E, unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

class JsonlEventStore<S, E> implements EventStore<S, E> {
  private state: S;
  private applied = 0;
  private readonly segments = new Map<string, SegmentCursor>();
  /** Events read ahead of a gap, waiting for the missing sequence numbers. */
  private readonly ahead = new Map<number, E>();
  private handle: FileHandle | null = null;
  /** Cursor of the segment this process writes; advanced past our own appends. */
  private own: SegmentCursor | null = null;
  private segmentBytes = 0;
  private readonly batcher = new Batcher<Pending<S, E>>((batch) => this.runBatch(batch));
  private closed = false;
  private readonly lockFile: string;
  /** Unreadable lines seen: a gap after one is permanent, so reads settle it under the lock. */
  private badLines = 0;
  private settled = false;
  private readonly reported = new Set<string>();

  constructor(private readonly options: EventStoreOptions<S, E>) {
    this.state = options.start?.state ?? options.initial();
    if (options.start) {
      this.applied = options.start.seq;
      for (const [name, offset] of Object.entries(options.start.offsets)) this.segments.set(name, { offset });
    }
    this.lockFile = path.join(options.dir, 'events');
  }

  get version(): number {
    return this.applied;
  }

  get dir(): string {
    return this.options.dir;
  }

  position(): StorePosition | undefined {
    if (this.ahead.size > 0) return undefined;
    const offsets: Record<string, number> = {};
    for (const [name, cursor] of this.segments) offsets[name] = cursor.offset;
    return { seq: this.applied, offsets };
  }

  private catching: Promise<void> = Promise.resolve();

  /**
   * Reads what other processes appended since the last call. Calls are serialised: two reads
   * running at once would both advance a segment's cursor and skip events.
   */
  private catchUp(underLock: boolean): Promise<void> {
    const run = this.catching.then(() => this.readNew(underLock));
    this.catching = run.catch(() => {});
    return run;
  }

  private async readNew(underLock: boolean): Promise<void> {
    let names: string[];
    // The directory listing and sizes are checked on every read; synchronous calls cost a few
    // microseconds where their async versions each wait for a thread-pool round trip.
    try {
      names = readdirSync(this.options.dir).filter((n) => n.endsWith('.jsonl'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    for (const name of names) {
      const file = path.join(this.options.dir, name);
      const cursor = this.segments.get(name) ?? { offset: 0 };
      this.segments.set(name, cursor);
      const { size } = statSync(file);
      if (size <= cursor.offset) continue;
      const handle = await fs.open(file, 'r');
      let buffer: Buffer;
      try {
        buffer = Buffer.alloc(size - cursor.offset);
        await handle.read(buffer, 0, buffer.length, cursor.offset);
      } finally {
        await handle.close();
      }
      const end = buffer.lastIndexOf(0x0a);
      // Under the lock no writer is mid-append, so bytes after the last newline are a torn write.
      if (underLock && end < buffer.length - 1)
        await this.setAside(
          name,
          cursor.offset + end + 1,
          buffer.subarray(end + 1).toString('utf8'),
          'torn last line (a write cut short)',
        );
      if (end < 0) continue;
      let lineOffset = 0;
      for (const line of buffer.subarray(0, end).toString('utf8').split('\n')) {
        if (line === '') {
          lineOffset += 1;
          continue;
        }
        let stored: StoredEvent<E>;
        try {
          stored = JSON.parse(line) as StoredEvent<E>;
        } catch (error) {
          this.badLines++;
          await this.setAside(
            name,
            cursor.offset + lineOffset,
            line,
            `unreadable line: ${(error as Error).message}`,
          );
          lineOffset += Buffer.byteLength(line) + 1;
          continue;
        }
        lineOffset += Buffer.byteLength(line) + 1;
        if (typeof stored.seq !== 'number' || stored.seq <= this.applied) continue;
        if (this.ahead.has(stored.seq)) {
          this.options.logger.error('event store: two events with one sequence number; keeping the first', {
            seq: stored.seq,
            segment: name,
          });
          continue;
        }
        this.ahead.set(stored.seq, stored.event);
      }
      cursor.offset += end + 1;
    }
    this.applyContiguous();
    if (underLock && this.ahead.size > 0) {
      // Under the lock every writer has finished, so a gap now is permanent (it cannot happen
      // unless a file was edited by hand). Skip it loudly rather than stall every writer.
      const next = Math.min(...this.ahead.keys());
      this.options.logger.error('event store: sequence gap; skipping', {
        from: this.applied + 1,
        to: next - 1,
      });
      this.applied = next - 1;
      this.applyContiguous();
    }
  }

  /**
   * Copies an unreadable piece of a segment to `<dir>/set-aside/` (one file per segment and
   * offset, so several processes reading it write it once) and reports it once per process.
   */
  private async setAside(segment: string, offset: number, text: string, problem: string): Promise<void> {
    const key = `${segment}@${offset}`;
    if (this.reported.has(key)) return;
    this.reported.add(key);
    const dir = path.join(this.options.dir, 'set-aside');
    const file = path.join(dir, `${key}.txt`);
    try {
      await fs.mkdir(dir, { recursive: true });
      await fs.writeFile(file, text, { flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST')
        this.options.logger.warn('event store: could not set a line aside', { file, error });
    }
    this.options.logger.warn('event store: set aside a piece of a segment; later events are still read', {
      segment,
      offset,
      problem,
      preservedAs: file,
    });
    this.options.onRecovery?.({
      file: path.join(this.options.dir, segment),
      problem: `${problem} at byte ${offset}`,
      action: 'set_aside',
      preservedAs: file,
      at: new Date().toISOString(),
    });
  }

  private applyContiguous(): void {
    for (;;) {
      const event = this.ahead.get(this.applied + 1);
      if (event === undefined) return;
      this.ahead.delete(this.applied + 1);
      this.applied++;
      this.options.apply(this.state, event, this.applied);
    }
  }

  async read<R>(select: (state: Readonly<S>, version: number) => R): Promise<R> {
    await this.catchUp(false);
    // A gap behind an unreadable line never fills: settle it under the lock (where gaps are final)
    // instead of hiding every later event until the next write. The first read also looks under
    // the lock once, where a partial last line is known to be torn (and is reported).
    if (!this.settled || (this.ahead.size > 0 && this.badLines > 0)) {
      this.settled = true;
      await fs.mkdir(this.options.dir, { recursive: true });
      await withFileLock(this.lockFile, () => this.catchUp(true), {
        logger: this.options.logger,
        staleMs: this.options.lockStaleMs,
        waitMs: this.options.lockWaitMs,
      });
    }
    return select(this.state, this.applied);
  }

  transact<R>(decide: (state: Readonly<S>) => Decision<E, R>): Promise<R> {
    if (this.closed) {
      return Promise.reject(
        new AppError('STORAGE_CLOSED', `Store ${path.basename(this.options.dir)} is closed`, {
          hint: 'The server is shutting down; retry against a running server',
        }),
      );
    }
    return new Promise<R>((resolve, reject) => {
      this.batcher.add({
        decide: decide,
        resolve: resolve as (v: unknown) => void,
        reject,
      });
    });
  }

  private async runBatch(batch: Pending<S, E>[]): Promise<void> {
    if (batch.length === 0) return;
    const maxBytes = this.options.maxEventBytes ?? 4 * 1024 * 1024;
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    try {
      await fs.mkdir(this.options.dir, { recursive: true });
      await withFileLock(
        this.lockFile,
        async () => {
          await this.catchUp(true);
          const lines: string[] = [];
          for (const item of batch) {
            try {
              const decision = item.decide(this.state);
              if (decision.event !== undefined) {
                const seq = this.applied + 1;
                const line =
                  (this.options.serialize ?? defaultSerialize)({ seq, event: decision.event }) + '\n';
                if (Buffer.byteLength(line) > maxBytes) {
                  throw new AppError(
                    'INVALID_INPUT',
                    `The change is ${Buffer.byteLength(line)} bytes; the limit is ${maxBytes}`,
                    {
                      hint: 'Split it into smaller changes or move large content into an artifact',
                    },
                  );
                }
                // Later decisions in the batch must see this one.
                this.options.apply(this.state, decision.event, seq);
                this.applied = seq;
                lines.push(line);
              }
              outcomes.push({ ok: true, value: decision.result });
            } catch (error) {
              outcomes.push({ ok: false, error });
            }
          }
          if (lines.length > 0) {
            try {
              await this.append(lines.join(''));
            } catch (error) {
              // Nothing of this batch is durable: forget it in memory too, and re-read from disk.
              this.resetToDisk();
              throw error;
            }
          }
        },
        { logger: this.options.logger, staleMs: this.options.lockStaleMs, waitMs: this.options.lockWaitMs },
      );
    } catch (error) {
      this.options.logger.error('event store: transaction batch failed', { dir: this.options.dir, error });
      for (const item of batch) item.reject(error);
      return;
    }
    batch.forEach((item, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) item.resolve(outcome.value);
      else item.reject(outcome.error);
    });
  }

  private resetToDisk(): void {
    this.own = null;
    this.state = this.options.initial();
    this.applied = 0;
    this.segments.clear();
    this.ahead.clear();
  }

  private async append(text: string): Promise<void> {
    const maxSegment = this.options.maxSegmentBytes ?? 16 * 1024 * 1024;
    if (this.handle === null || this.segmentBytes >= maxSegment) {
      await this.handle?.close();
      const name = `${String(Date.now()).padStart(13, '0')}-${process.pid}-${randomBytes(3).toString('hex')}.jsonl`;
      this.handle = await fs.open(path.join(this.options.dir, name), 'a');
      this.segmentBytes = 0;
      this.own = { offset: 0 };
      this.segments.set(name, this.own);
    }
    try {
      await this.handle.write(text);
      await this.handle.datasync();
    } catch (error) {
      await this.handle.close().catch(() => {});
      this.handle = null;
      throw error;
    }
    const bytes = Buffer.byteLength(text);
    this.segmentBytes += bytes;
    // Already applied: catch-up need not read it back.
    if (this.own) this.own.offset += bytes;
  }

  flush(): Promise<void> {
    return this.batcher.flush();
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    await this.handle?.close().catch(() => {});
    this.handle = null;
  }
}

export function createEventStore<S, E>(options: EventStoreOptions<S, E>): EventStore<S, E> {
  return new JsonlEventStore(options);
}
