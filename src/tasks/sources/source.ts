/**
 * Where imported tasks come from. Offline formats (.eml, .mbox, .ics) are implemented; online
 * sources (Gmail, Google Calendar) would implement the same interface, but their APIs cannot be
 * reached from here, so they are left out rather than faked.
 */
import type { NewTask } from '../batch.js';

export interface Skipped {
  item: string;
  reason: string;
}

export interface SourceReadResult {
  /** Candidate tasks, each with an external_id for de-duplication. */
  tasks: NewTask[];
  skipped: Skipped[];
  errors: Array<{ file: string; error: string }>;
}

export interface TaskSource {
  readonly name: string;
  /** Whether this source reads the file at `file` (by extension). */
  handles(file: string): boolean;
  read(file: string, now: Date): Promise<SourceReadResult>;
}
