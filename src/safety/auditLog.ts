/**
 * The project's decision log: decisions, errors and patterns worth remembering, appended by agents
 * or people. Stored append-only inside the state folder only; there is no path argument to escape it.
 */
import { quoteUntrusted } from './quote.js';
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
      // Newest first; entries of the same millisecond keep the order they were appended in.
      const order = new Map(all.map((e, i) => [e, i]));
      const matches = all
        .filter((e) => (q.entry_type ? e.entry_type === q.entry_type : true))
        .filter((e) => {
          if (words.length === 0) return true;
          const hay = `${e.title ?? ''}\n${e.content}`.toLowerCase();
          return words.every((w) => hay.includes(w));
        })
        .sort((a, b) => (a.at === b.at ? order.get(b)! - order.get(a)! : b.at.localeCompare(a.at)));
      return { ...paginate(matches, q), counts };
    },
  };
}

/** Longest decision-log excerpt given to an agent. */
const AUDIT_QUOTE_CHARS = 4_000;

/**
 * Decision-log entries as quoted data for an agent's prompt: bounded, each entry cut, inside a
 * fence with a per-call random token that an entry cannot close (safety/quote.ts).
 */
export function quoteAuditEntries(entries: readonly AuditEntry[], maxChars = AUDIT_QUOTE_CHARS): string {
  if (entries.length === 0) return '';
  const lines: string[] = [];
  let used = 0;
  for (const e of entries) {
    const text = `${e.title ? `${e.title}: ` : ''}${e.content}`.replace(/\s+/g, ' ').slice(0, 600);
    const line = `- [${e.entry_type}] ${e.at.slice(0, 10)} ${text}`;
    if (used + line.length > maxChars) break;
    lines.push(line);
    used += line.length;
  }
  return `Project decision log (context for you):\n${quoteUntrusted(lines.join('\n'), { label: 'decision log', maxChars })}`;
}
