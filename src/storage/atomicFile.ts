/**
 * Crash-safe JSON files. A write goes to a temp file, is fsynced, and renamed over the target, so
 * the target is always a whole document. Before each replace the current file is hard-linked to
 * `<file>.bak`: the last good copy, used if the main file is ever found torn or empty.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import writeFileAtomic from 'write-file-atomic';

export interface RecoveryEvent {
  file: string;
  /** What was wrong with the main file. */
  problem: string;
  /**
   * `backup` when the last good copy was used; `reset` when none existed (the bad file is kept);
   * `set_aside` when an unreadable line of a log was copied aside and every later line still read.
   */
  action: 'backup' | 'reset' | 'set_aside';
  /** Where the unreadable file was moved, if it was. */
  preservedAs?: string;
  at: string;
}

export type ReadOutcome<T> =
  | { kind: 'missing' }
  | { kind: 'ok'; value: T }
  | { kind: 'recovered'; value: T | undefined; event: RecoveryEvent };

function backupPath(file: string): string {
  return `${file}.bak`;
}

async function readParsed<T>(file: string, parse: (raw: unknown) => T): Promise<T> {
  const text = await fs.readFile(file, 'utf8');
  if (text.trim() === '') throw new Error('file is empty');
  return parse(JSON.parse(text));
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException)?.code === 'ENOENT';
}

/**
 * Reads a JSON document, falling back to its last good copy when the main file is torn, empty or
 * fails `parse`. Never throws for bad content; the caller logs the recovery event.
 * @throws only for I/O errors other than a missing file (permissions, EIO).
 */
export async function readJsonWithRecovery<T>(
  file: string,
  parse: (raw: unknown) => T,
  now: () => number = Date.now,
): Promise<ReadOutcome<T>> {
  let problem: string;
  try {
    return { kind: 'ok', value: await readParsed(file, parse) };
  } catch (error) {
    if (isMissing(error)) {
      // A missing main file with a backup means the file was deleted by hand; use the backup.
      try {
        const value = await readParsed(backupPath(file), parse);
        return {
          kind: 'recovered',
          value,
          event: { file, problem: 'file is missing', action: 'backup', at: new Date(now()).toISOString() },
        };
      } catch {
        return { kind: 'missing' };
      }
    }
    if (
      error instanceof Error &&
      'code' in error &&
      typeof error.code === 'string' &&
      error.code !== 'ENOENT'
    ) {
      throw error;
    }
    problem = error instanceof Error ? error.message : String(error);
  }
  const at = new Date(now()).toISOString();
  try {
    const value = await readParsed(backupPath(file), parse);
    return { kind: 'recovered', value, event: { file, problem, action: 'backup', at } };
  } catch {
    // No usable copy: keep the unreadable file for a person to inspect, and say so.
    const preservedAs = `${file}.corrupt-${now()}`;
    await fs.rename(file, preservedAs).catch(() => {});
    return {
      kind: 'recovered',
      value: undefined,
      event: { file, problem, action: 'reset', preservedAs, at },
    };
  }
}

/** Replaces `file` atomically with `text`, keeping the previous version as `<file>.bak`. */
export async function writeTextAtomic(file: string, text: string): Promise<void> {
  const bak = backupPath(file);
  await fs.unlink(bak).catch((e: unknown) => {
    if (!isMissing(e)) throw e;
  });
  await fs.link(file, bak).catch((e: unknown) => {
    if (!isMissing(e)) throw e;
  });
  await writeFileAtomic(file, text, { fsync: true });
}

/** Removes temp files left by a write that was killed before its rename (call under the lock). */
export async function removeStaleTempFiles(file: string): Promise<number> {
  const dir = path.dirname(file);
  const base = path.basename(file);
  const pattern = new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.\\d+$`);
  let removed = 0;
  for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
    if (pattern.test(name)) {
      await fs.unlink(path.join(dir, name)).catch(() => {});
      removed++;
    }
  }
  return removed;
}
