/**
 * Training rows for the failure predictor, from our trials or any JSONL whose lines carry a prompt
 * (`prompt`, `input`, `input_prompt`, or chat `messages`) and an outcome (`label` with 1 = failure,
 * `success`, `pass`, `pass_fail`, or `error`). Lines without both are counted and skipped.
 */
import { createHash } from 'node:crypto';

export interface TrainingRow {
  text: string;
  tool?: string | undefined;
  /** 1 = failure */
  label: 0 | 1;
}

export interface ParsedRows {
  rows: TrainingRow[];
  skipped: number;
}

function promptOf(o: Record<string, unknown>): string | undefined {
  for (const k of ['prompt', 'input', 'input_prompt']) if (typeof o[k] === 'string' && o[k]) return o[k];
  // Our langfuse export: { input: { prompt }, metadata: { pass } }.
  const nested = (o.input as { prompt?: unknown } | undefined)?.prompt;
  if (typeof nested === 'string' && nested) return nested;
  const messages = o.messages ?? (o.input as { messages?: unknown } | undefined)?.messages;
  if (Array.isArray(messages)) {
    const user = messages.filter(
      (m): m is { role: string; content: string } =>
        typeof m === 'object' && m !== null && (m as { role?: unknown }).role === 'user',
    );
    const text = user.map((m) => (typeof m.content === 'string' ? m.content : '')).join('\n');
    if (text) return text;
  }
  return undefined;
}

function labelOf(o: Record<string, unknown>): 0 | 1 | undefined {
  const meta = (o.metadata ?? {}) as Record<string, unknown>;
  for (const src of [o, meta]) {
    const l = src.label;
    if (l === 1 || l === '1' || l === 'fail' || l === 'failure' || l === true) return 1;
    if (l === 0 || l === '0' || l === 'pass' || l === 'success' || l === false) return 0;
    if (typeof src.success === 'boolean') return src.success ? 0 : 1;
    if (typeof src.pass === 'boolean') return src.pass ? 0 : 1;
    if (typeof src.pass_fail === 'string') return /^pass/i.test(src.pass_fail) ? 0 : 1;
    if ('error' in src) return src.error ? 1 : 0;
  }
  return undefined;
}

/** Parses JSONL text (blank and unreadable lines are skipped and counted). */
export function parseTrainingJsonl(text: string): ParsedRows {
  const rows: TrainingRow[] = [];
  let skipped = 0;
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let o: unknown;
    try {
      o = JSON.parse(line);
    } catch {
      skipped++;
      continue;
    }
    if (typeof o !== 'object' || o === null) {
      skipped++;
      continue;
    }
    const rec = o as Record<string, unknown>;
    const prompt = promptOf(rec);
    const label = labelOf(rec);
    if (prompt === undefined || label === undefined) {
      skipped++;
      continue;
    }
    const tool =
      rec.tool ?? rec.operation ?? (rec.metadata as Record<string, unknown> | undefined)?.operation;
    rows.push({ text: prompt.slice(0, 20_000), ...(typeof tool === 'string' ? { tool } : {}), label });
  }
  return { rows, skipped };
}

/** A stable hash of the training data, saved with the model. */
export function dataHash(rows: readonly TrainingRow[]): string {
  const h = createHash('sha256');
  for (const r of rows) h.update(`${r.label}\u0000${r.tool ?? ''}\u0000${r.text}\n`);
  return h.digest('hex');
}
