/**
 * The project's decision log: decisions, errors and patterns worth remembering, appended by agents
 * or people. Stored append-only inside the state folder only; there is no path argument to escape it.
 */
import type { Clock } from '../core/clock.js';
import { isoTime } from '../core/clock.js';
import { newId } from '../core/ids.js';
import { paginate } from '../core/pagination.js';
import type { Page, PageRequest } from '../core/pagination.js';
import type { AppendLog } from '../storage/appendLog.js';
import type { Storage } from '../storage/storage.js';

export const AUDIT_ENTRY_TYPES = ['decision', 'error', 'pattern'] as const;
export type AuditEntryType = (typeof AUDIT_ENTRY_TYPES)[number];

export interface AuditEntry {
  id: string;
  entry_type: AuditEntryType;
  title?: string;
  content: string;
  actor: string;
  at: string;
}

export interface AuditQuery extends PageRequest {
  /** Case-insensitive words that must all appear in the title or content. */
  query?: string | undefined;
  entry_type?: AuditEntryType | undefined;
}

export interface AuditLog {
  append(entry: {
    entry_type: AuditEntryType;
    title?: string | undefined;
    content: string;
    actor: string;
  }): Promise<AuditEntry>;
  /** Newest first. */
  query(q: AuditQuery): Promise<Page<AuditEntry> & { counts: Record<AuditEntryType, number> }>;
}

export function createAuditLog(storage: Storage, clock: Clock): AuditLog {
  const log: AppendLog<AuditEntry> = storage.log<AuditEntry>('audit');
  return {
    async append(input) {
      const entry: AuditEntry = {
        id: newId('aud'),
        entry_type: input.entry_type,
        ...(input.title ? { title: input.title } : {}),
        content: input.content,
        actor: input.actor,
        at: isoTime(clock),
      };
      await log.append(entry);
      return entry;
    },
    async query(q) {
      const all = await log.readAll();
      const counts: Record<AuditEntryType, number> = { decision: 0, error: 0, pattern: 0 };
      for (const e of all) counts[e.entry_type]++;
      const words = (q.query ?? '').toLowerCase().split(/\s+/).filter(Boolean);
      const matches = all
        .filter((e) => (q.entry_type ? e.entry_type === q.entry_type : true))
        .filter((e) => {
          if (words.length === 0) return true;
          const hay = `${e.title ?? ''}\n${e.content}`.toLowerCase();
          return words.every((w) => hay.includes(w));
        })
        .sort((a, b) => (a.at === b.at ? b.id.localeCompare(a.id) : b.at.localeCompare(a.at)));
      return { ...paginate(matches, q), counts };
    },
  };
}
