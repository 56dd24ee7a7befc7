/**
 * Training-data export from trials, in the formats the platforms document:
 * - openai_sft:        {"messages": [{role, content}, ...]}                      (chat fine-tuning)
 * - openai_preference: {"input": {"messages": [...]}, "preferred_output": [...], "non_preferred_output": [...]}
 *                      from a passing and a failing trial of the same prompt       (preference tuning)
 * - gemini_sft:        {"contents": [{"role": "user"|"model", "parts": [{"text"}]}]} (Gemini / Vertex tuning)
 * - langfuse:          {"input", "expectedOutput", "metadata"}                     (Langfuse dataset items)
 * SFT formats leave out trials of flaky prompts (they pass and fail alternately on their model);
 * langfuse and full mark them (`flaky`).
 * - full:              our whole trial records
 * Secrets and secret-looking strings are scrubbed. Lines stream to the file with backpressure, so
 * memory stays bounded by the trial log, not by the export.
 */
import { createWriteStream } from 'node:fs';
import { createRedactor } from '../safety/redact.js';
import { once } from 'node:events';
import { sourceOf } from './trials.js';
import type { Trial } from './trials.js';
import type { ExportFormat } from './exportFormats.js';

export interface ExportOptions {
  format: ExportFormat;
  /** ISO date or date-time: only trials created at or after it. */
  since?: string | undefined;
  /** pass: passing trials only (default for SFT formats); fail; all. */
  label?: 'pass' | 'fail' | 'all' | undefined;
  limit?: number | undefined;
  /** Exact secret values to remove (configured keys). */
  secrets: readonly string[];
  /** Further patterns to remove (TASK_ORCHESTRATOR_REDACT_PATTERNS). */
  patterns?: readonly RegExp[] | undefined;
  /** Only trials of this source (claude_code, spawn_agent, ...). */
  source?: string | undefined;
  /** Case keys flaky now (default: each trial's standing when it was graded). */
  flaky?: ReadonlySet<string> | undefined;
}

/** A trial of a prompt that passes and fails alternately on its model. */
function isFlaky(t: Trial, o: ExportOptions): boolean {
  if (!t.case) return false;
  return o.flaky ? o.flaky.has(t.case.key) : t.case.flaky;
}

/** The export's scrubber: the safety layer's redactor with the configured secrets and patterns. */
function createScrubber(secrets: readonly string[], extra: readonly RegExp[] = []): (text: string) => string {
  return createRedactor({ secrets, patterns: extra });
}

function select(trials: readonly Trial[], o: ExportOptions): Trial[] {
  const label = o.label ?? (o.format === 'full' || o.format === 'openai_preference' ? 'all' : 'pass');
  return (
    trials
      .filter((t) => t.failure_type !== 'provider_error' || o.format === 'full')
      .filter((t) => (o.since ? t.created_at >= o.since : true))
      .filter((t) => (o.source ? (t.source ?? sourceOf(t.operation)) === o.source : true))
      .filter((t) => (label === 'all' ? true : label === 'pass' ? t.pass : !t.pass))
      // A flaky prompt's single answer is not a reliable example to train on.
      .filter((t) => !(isFlaky(t, o) && (o.format === 'openai_sft' || o.format === 'gemini_sft')))
  );
}

/** The export's lines, one object per line (not yet serialised). */
export function* exportRecords(trials: readonly Trial[], o: ExportOptions): Generator<unknown> {
  const scrub = createScrubber(o.secrets, o.patterns);
  const limit = o.limit ?? Number.POSITIVE_INFINITY;
  let n = 0;
  const chosen = select(trials, o);
  if (o.format === 'openai_preference') {
    const byPrompt = new Map<string, { pass?: Trial; fail?: Trial }>();
    for (const t of chosen) {
      const pair = byPrompt.get(t.prompt) ?? {};
      if (t.pass) pair.pass ??= t;
      else pair.fail ??= t;
      byPrompt.set(t.prompt, pair);
    }
    for (const [prompt, pair] of byPrompt) {
      if (!pair.pass || !pair.fail || n >= limit) continue;
      n++;
      yield {
        input: { messages: [{ role: 'user', content: scrub(prompt) }] },
        preferred_output: [{ role: 'assistant', content: scrub(pair.pass.output) }],
        non_preferred_output: [{ role: 'assistant', content: scrub(pair.fail.output) }],
      };
    }
    return;
  }
  for (const t of chosen) {
    if (n >= limit) return;
    if (t.output === '' && o.format !== 'full') continue;
    n++;
    const prompt = scrub(t.prompt);
    const output = scrub(t.output);
    switch (o.format) {
      case 'openai_sft':
        yield {
          messages: [
            { role: 'user', content: prompt },
            { role: 'assistant', content: output },
          ],
        };
        break;
      case 'gemini_sft':
        yield {
          contents: [
            { role: 'user', parts: [{ text: prompt }] },
            { role: 'model', parts: [{ text: output }] },
          ],
        };
        break;
      case 'langfuse':
        yield {
          input: { prompt },
          expectedOutput: output,
          metadata: {
            trial_id: t.id,
            operation: t.operation,
            source: t.source ?? sourceOf(t.operation),
            provider: t.provider,
            model: t.model,
            pass: t.pass,
            score: t.score,
            failure_type: t.failure_type,
            flaky: isFlaky(t, o),
            ...(t.case ? { pass_rate: t.case.pass_rate } : {}),
            ...(t.uncertain ? { uncertain: t.uncertain } : {}),
          },
        };
        break;
      case 'full':
        yield JSON.parse(scrub(JSON.stringify({ ...t, flaky: isFlaky(t, o) }))) as unknown;
        break;
    }
  }
}

/** Writes the export as JSONL to `file`; returns how many lines were written. */
export async function writeExport(file: string, trials: readonly Trial[], o: ExportOptions): Promise<number> {
  const out = createWriteStream(file, { flags: 'w' });
  let lines = 0;
  try {
    for (const record of exportRecords(trials, o)) {
      if (!out.write(JSON.stringify(record) + '\n')) await once(out, 'drain');
      lines++;
    }
  } finally {
    out.end();
    await once(out, 'finish');
  }
  return lines;
}
