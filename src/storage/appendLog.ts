/**
 * Append-only JSONL for high-volume records (trials, usage, audit, events).
 *
 * Each process writes its own segment files (`<startMs>-<pid>-<rand>.jsonl`), so several server
 * processes never interleave or race on rotation. Appends issued together are written with one
 * write and one fdatasync; a promise resolves only when its line is durable. A torn last line (a
 * process killed mid-write) is skipped and counted on read, never a crash.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs, readdirSync, statSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { AppError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { Batcher } from './batcher.js';

export interface AppendLogOptions {
  /** Folder holding this log's segments. */
  dir: string;
  logger: Logger;
  /** Serialises what is written (the storage layer's, which passes strings through the secret redactor). Default JSON.stringify. */
  serialize?: (value: unknown, indent?: number) => string;
  /** Start a new segment past this size. Default 8 MiB. */
  maxSegmentBytes?: number;
  /** Largest single record, serialised. Default 1 MiB. */
  maxRecordBytes?: number;
}

export interface AppendLogStats {
  segments: number;
  records: number;
  /** Lines that did not parse (torn by a crash); skipped. */
  skippedLines: number;
}

export interface AppendLog<T> {
  readonly dir: string;
  /** Appends one record; resolves when it is on disk. @throws AppError INVALID_INPUT if too large. */
  append(record: T): Promise<void>;
  /** Every record, segment by segment in creation order, each segment in write order. */
  readAll(): Promise<T[]>;
  stats(): Promise<AppendLogStats>;
  /**
   * Deletes segments last written before `before` (epoch ms) whose writer is gone (retention).
   * A segment a live process may still append to is kept. Returns how many were removed.
   */
  prune(before: number): Promise<number>;
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** Whether a process with this pid exists on this machine (a reused pid counts as alive: kept). */
function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface SegmentCache<T> {
  offset: number;
  records: T[];
  skipped: number;
}

class JsonlAppendLog<T> implements AppendLog<T> {
  readonly dir: string;
  private readonly logger: Logger;
  private readonly maxSegmentBytes: number;
  private readonly maxRecordBytes: number;
  private handle: FileHandle | null = null;
  private segmentBytes = 0;
  private readonly batcher = new Batcher<{ line: string; resolve: () => void; reject: (e: unknown) => void }>(
    (batch) => this.writeBatch(batch),
  );
  private closed = false;
  private readonly cache = new Map<string, SegmentCache<T>>();

  private readonly serialize: (value: unknown) => string;

  constructor(options: AppendLogOptions) {
    this.serialize = options.serialize ?? ((value) => JSON.stringify(value));
    this.dir = options.dir;
    this.logger = options.logger;
    this.maxSegmentBytes = options.maxSegmentBytes ?? 8 * 1024 * 1024;
    this.maxRecordBytes = options.maxRecordBytes ?? 1024 * 1024;
  }

  append(record: T): Promise<void> {
    if (this.closed) {
      return Promise.reject(new AppError('STORAGE_CLOSED', `Log ${path.basename(this.dir)} is closed`));
    }
    const line = this.serialize(record) + '\n';
    const bytes = Buffer.byteLength(line);
    if (bytes > this.maxRecordBytes) {
      return Promise.reject(
        new AppError('INVALID_INPUT', `Record is ${bytes} bytes; the limit is ${this.maxRecordBytes}`, {
          hint: 'Shorten the content or store it as an artifact file and reference it',
        }),
      );
    }
    return new Promise<void>((resolve, reject) => this.batcher.add({ line, resolve, reject }));
  }

  private async openSegment(): Promise<FileHandle> {
    await fs.mkdir(this.dir, { recursive: true });
    const name = `${String(Date.now()).padStart(13, '0')}-${process.pid}-${randomBytes(3).toString('hex')}.jsonl`;
    this.segmentBytes = 0;
    this.currentSegment = name;
    return fs.open(path.join(this.dir, name), 'a');
  }

  private currentSegment: string | undefined;

  async prune(before: number): Promise<number> {
    let removed = 0;
    for (const name of this.segmentNames()) {
      if (name === this.currentSegment) continue;
      const pid = Number(name.split('-')[1]);
      if (pid !== process.pid && pidAlive(pid)) continue;
      const file = path.join(this.dir, name);
      const st = await fs.stat(file).catch(() => undefined);
      if (!st || st.mtimeMs >= before) continue;
      await fs.unlink(file).catch(() => undefined);
      this.cache.delete(name);
      removed++;
    }
    return removed;
  }

  private async writeBatch(
    batch: Array<{ line: string; resolve: () => void; reject: (e: unknown) => void }>,
  ): Promise<void> {
    if (batch.length === 0) return;
    const text = batch.map((p) => p.line).join('');
    try {
      if (this.handle === null || this.segmentBytes >= this.maxSegmentBytes) {
        await this.handle?.close();
        this.handle = await this.openSegment();
      }
      await this.handle.write(text);
      await this.handle.datasync();
      this.segmentBytes += Buffer.byteLength(text);
    } catch (error) {
      this.logger.error('storage: append failed', { dir: this.dir, error });
      await this.handle?.close().catch(() => {});
      this.handle = null;
      for (const p of batch) p.reject(error);
      return;
    }
    for (const p of batch) p.resolve();
  }

  private segmentNames(): string[] {
    try {
      // Checked on every read: sync metadata calls cost microseconds, async ones a thread-pool round trip.
      return readdirSync(this.dir)
        .filter((n) => n.endsWith('.jsonl'))
        .sort();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }

  private refreshing: Promise<unknown> = Promise.resolve();

  /** Reads only what was appended since the last call, per segment; serialised (see eventStore). */
  private refresh(): Promise<string[]> {
    const run = this.refreshing.then(() => this.readNew());
    this.refreshing = run.catch(() => {});
    return run;
  }

  private async readNew(): Promise<string[]> {
    const names = this.segmentNames();
    for (const name of names) {
      const file = path.join(this.dir, name);
      const cached = this.cache.get(name) ?? { offset: 0, records: [], skipped: 0 };
      const size = statSync(file).size;
      if (size > cached.offset) {
        const handle = await fs.open(file, 'r');
        try {
          const buffer = Buffer.alloc(size - cached.offset);
          await handle.read(buffer, 0, buffer.length, cached.offset);
          // Only whole lines; a partial last line may still be being written by another process.
          const end = buffer.lastIndexOf(0x0a);
          if (end >= 0) {
            for (const line of buffer.subarray(0, end).toString('utf8').split('\n')) {
              if (line.trim() === '') continue;
              try {
                cached.records.push(JSON.parse(line) as T);
              } catch {
                cached.skipped++;
              }
            }
            cached.offset += end + 1;
          }
        } finally {
          await handle.close();
        }
      }
      this.cache.set(name, cached);
    }
    return names;
  }

  async readAll(): Promise<T[]> {
    const names = await this.refresh();
    const out: T[] = [];
    for (const name of names) for (const r of this.cache.get(name)?.records ?? []) out.push(r);
    return out;
  }

  async stats(): Promise<AppendLogStats> {
    const names = await this.refresh();
    let records = 0;
    let skippedLines = 0;
    for (const name of names) {
      const c = this.cache.get(name);
      records += c?.records.length ?? 0;
      skippedLines += c?.skipped ?? 0;
    }
    return { segments: names.length, records, skippedLines };
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

export function createAppendLog<T>(options: AppendLogOptions): AppendLog<T> {
  return new JsonlAppendLog<T>(options);
}
