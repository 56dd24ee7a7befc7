/**
 * Tasks from email: .eml files and .mbox mailboxes, parsed with mailparser. A message becomes a
 * task when it asks for something (deterministic cues, listed in `classify`); newsletters,
 * auto-replies and no-reply senders never do. Message-IDs de-duplicate repeated imports.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type * as Chrono from 'chrono-node';
import type { simpleParser as SimpleParser } from 'mailparser';
import type { Priority } from '../model.js';
import type { NewTask } from '../batch.js';
import type { SourceReadResult, TaskSource } from './source.js';

const MAX_MAIL_FILE_BYTES = 50 * 1024 * 1024;
const MAX_MESSAGES = 5000;

export interface MailMessage {
  messageId?: string;
  subject: string;
  from: string;
  date?: Date;
  text: string;
  /** Lower-case header names present on the message. */
  headers: Map<string, string>;
}

interface MailLibs {
  simpleParser: typeof SimpleParser;
  chrono: typeof Chrono;
}

let libs: Promise<MailLibs> | undefined;

/** mailparser and chrono-node take ~370 ms to load: only sessions that read mail pay for them. */
function loadMailLibs(): Promise<MailLibs> {
  libs ??= Promise.all([import('mailparser'), import('chrono-node')]).then(([m, c]) => ({
    simpleParser: m.simpleParser,
    chrono: c,
  }));
  return libs;
}

async function parseMessage(raw: string | Buffer): Promise<MailMessage> {
  const { simpleParser } = await loadMailLibs();
  const parsed = await simpleParser(raw, { skipHtmlToText: false, skipImageLinks: true });
  // Raw header lines: mailparser folds List-* headers into a structured `list` entry.
  const headers = new Map<string, string>();
  for (const { key, line } of parsed.headerLines) {
    headers.set(key.toLowerCase(), line.slice(line.indexOf(':') + 1).trim());
  }
  return {
    ...(parsed.messageId ? { messageId: parsed.messageId } : {}),
    subject: parsed.subject ?? '',
    from: parsed.from?.text ?? '',
    ...(parsed.date ? { date: parsed.date } : {}),
    text: (parsed.text ?? '').trim(),
    headers,
  };
}

/** Splits an mbox (mboxo/mboxrd) into raw messages, undoing `>From ` quoting. */
function splitMbox(text: string): string[] {
  const messages: string[] = [];
  let current: string[] | null = null;
  let previousBlank = true;
  for (const line of text.split(/\r?\n/)) {
    if (line.startsWith('From ') && previousBlank) {
      if (current) messages.push(current.join('\n'));
      current = [];
    } else if (current) {
      current.push(/^>+From /.test(line) ? line.slice(1) : line);
    }
    previousBlank = line.trim() === '';
  }
  if (current) messages.push(current.join('\n'));
  return messages.filter((m) => m.trim() !== '');
}

const ACTION =
  /\b(please|pls|can you|could you|would you|action (required|needed)|to-?do|deadline|due (by|on|date)|asap|urgent|review|approve|sign[- ]off|follow[- ]up|reminder|need (you|your)|let me know|waiting (for|on) you)\b/i;
const AUTOMATED_SENDER = /\b(no-?reply|do-?not-?reply|mailer-daemon|postmaster)\b/i;
const AUTO_REPLY_SUBJECT =
  /^(auto(matic)? reply|out of (the )?office|undeliverable|delivery status notification)/i;
const DEADLINE_CUE = /\b(by|due|before|deadline|until|no later than)\b[^.?!\n]{0,12}$/i;

export interface Classification {
  actionable: boolean;
  reason: string;
  priority: Priority;
  due?: string;
}

function isoDate(d: Date): string {
  return d.toISOString().slice(0, 10);
}

/** Decides whether a message asks for work, how urgent it is, and by when. */
export function classify(msg: MailMessage, now: Date, chrono: typeof Chrono): Classification {
  const priority: Priority = /\b(urgent|asap|immediately|critical)\b/i.test(
    `${msg.subject} ${msg.text.slice(0, 500)}`,
  )
    ? 'high'
    : /^\s*fyi\b/i.test(msg.subject)
      ? 'low'
      : 'medium';
  if (
    msg.headers.has('list-unsubscribe') ||
    /^(bulk|list|junk)$/i.test(msg.headers.get('precedence') ?? '')
  ) {
    return { actionable: false, reason: 'mailing list or newsletter', priority };
  }
  const auto = msg.headers.get('auto-submitted');
  if ((auto && !/^no$/i.test(auto)) || AUTO_REPLY_SUBJECT.test(msg.subject)) {
    return { actionable: false, reason: 'automatic reply', priority };
  }
  if (AUTOMATED_SENDER.test(msg.from)) return { actionable: false, reason: 'automated sender', priority };
  const body = msg.text.slice(0, 4000);
  const asks = ACTION.exec(`${msg.subject}\n${body}`);
  const question = msg.subject.trim().endsWith('?');
  if (!asks && !question) return { actionable: false, reason: 'no request found', priority };

  const reference = msg.date ?? now;
  let due: string | undefined;
  for (const result of chrono.parse(body, reference, { forwardDate: true })) {
    const before = body.slice(Math.max(0, result.index - 30), result.index);
    if (DEADLINE_CUE.test(before)) {
      due = isoDate(result.start.date());
      break;
    }
  }
  return {
    actionable: true,
    reason: asks ? `asks: "${asks[0]}"` : 'question in subject',
    priority,
    ...(due ? { due } : {}),
  };
}

function cleanSubject(subject: string): string {
  return subject.replace(/^\s*((re|fwd?|aw|wg)\s*:\s*)+/i, '').trim();
}

function messageToTask(msg: MailMessage, c: Classification): NewTask {
  const id =
    msg.messageId ??
    createHash('sha1')
      .update(`${msg.from}\n${msg.date?.toISOString() ?? ''}\n${msg.subject}`)
      .digest('hex');
  const subject = cleanSubject(msg.subject);
  return {
    title: (subject || `(no subject) from ${msg.from}`).slice(0, 200),
    description: [
      `From: ${msg.from}`,
      msg.date ? `Date: ${msg.date.toISOString()}` : '',
      '',
      msg.text.slice(0, 1500),
    ]
      .filter((l, i) => l !== '' || i === 2)
      .join('\n'),
    priority: c.priority,
    tags: ['email'],
    source: 'email',
    external_id: `email:${id}`,
    ...(c.due ? { due: c.due } : {}),
  };
}

export const emailSource: TaskSource = {
  name: 'email',
  handles: (file) => /\.(eml|mbox)$/i.test(file),
  async read(file, now): Promise<SourceReadResult> {
    const out: SourceReadResult = { tasks: [], skipped: [], errors: [] };
    const { size } = await fs.stat(file);
    if (size > MAX_MAIL_FILE_BYTES) {
      out.errors.push({ file, error: `file is ${size} bytes; the limit is ${MAX_MAIL_FILE_BYTES}` });
      return out;
    }
    const raw = await fs.readFile(file);
    const messages = /\.mbox$/i.test(file) ? splitMbox(raw.toString('utf8')) : [raw];
    for (const [i, m] of messages.slice(0, MAX_MESSAGES).entries()) {
      const label = `${path.basename(file)}${messages.length > 1 ? ` #${i + 1}` : ''}`;
      try {
        const msg = await parseMessage(m);
        const c = classify(msg, now, (await loadMailLibs()).chrono);
        if (c.actionable) out.tasks.push(messageToTask(msg, c));
        else out.skipped.push({ item: `${label} "${msg.subject.slice(0, 80)}"`, reason: c.reason });
      } catch (error) {
        out.errors.push({ file: label, error: (error as Error).message });
      }
    }
    if (messages.length > MAX_MESSAGES) {
      out.errors.push({
        file,
        error: `only the first ${MAX_MESSAGES} of ${messages.length} messages were read`,
      });
    }
    return out;
  },
};
