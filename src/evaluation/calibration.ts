/**
 * Calibration of an LLM judge against people: human-labelled examples (JSONL), agreement of the
 * judge's verdicts with the labels (accuracy, Cohen's kappa, confusion table), and the pass
 * threshold on the judge's scores that best matches the people.
 */
import { AppError } from '../core/errors.js';
import { JUDGE_CRITERIA } from '../config/defaults.js';
import type { JudgeCriterionName } from '../config/defaults.js';

export interface LabelledExample {
  prompt: string;
  response: string;
  criterion: JudgeCriterionName;
  /** The person's verdict. */
  human_pass: boolean;
  /** The person's score 0-1, when given. */
  human_score?: number;
}

export interface Confusion {
  /** Judge pass, human pass. */
  tp: number;
  /** Judge pass, human fail. */
  fp: number;
  /** Judge fail, human pass. */
  fn: number;
  /** Judge fail, human fail. */
  tn: number;
}

export interface Agreement {
  threshold: number;
  n: number;
  accuracy: number;
  kappa: number;
  confusion: Confusion;
}

const MAX_CHARS = 50_000;

/**
 * Parses labelled examples: one JSON object per line with prompt, response, criterion (or the
 * default), and human_pass (boolean) or human_score (0-1, pass at `threshold`).
 * @throws AppError INVALID_INPUT naming the first bad line.
 */
export function parseLabelled(
  text: string,
  defaults: { criterion?: JudgeCriterionName | undefined; threshold: number },
): LabelledExample[] {
  const out: LabelledExample[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('//')) return;
    const bad = (why: string) =>
      new AppError('INVALID_INPUT', `Line ${i + 1} of the labelled examples: ${why}`, {
        hint: 'Each line: {"prompt": "...", "response": "...", "criterion": "relevance", "human_pass": true} (or "human_score": 0.8)',
      });
    let v: Record<string, unknown>;
    try {
      v = JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw bad('not JSON');
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('not an object');
    if (typeof v.prompt !== 'string' || typeof v.response !== 'string')
      throw bad('prompt and response must be strings');
    const criterion = (v.criterion ?? defaults.criterion) as string | undefined;
    if (!criterion || !(JUDGE_CRITERIA as readonly string[]).includes(criterion))
      throw bad(`criterion must be one of ${JUDGE_CRITERIA.join(', ')}`);
    const score = v.human_score;
    if (score !== undefined && (typeof score !== 'number' || !(score >= 0 && score <= 1)))
      throw bad('human_score must be a number from 0 to 1');
    if (v.human_pass !== undefined && typeof v.human_pass !== 'boolean')
      throw bad('human_pass must be true or false');
    if (v.human_pass === undefined && score === undefined) throw bad('give human_pass or human_score');
    out.push({
      prompt: v.prompt.slice(0, MAX_CHARS),
      response: v.response.slice(0, MAX_CHARS),
      criterion: criterion as JudgeCriterionName,
      human_pass: v.human_pass ?? (score as number) >= defaults.threshold,
      ...(score !== undefined ? { human_score: score } : {}),
    });
  });
  return out;
}

/** Agreement of judge scores (pass at `threshold`) with the human verdicts. */
export function agreement(
  pairs: ReadonlyArray<{ score: number; human: boolean }>,
  threshold: number,
): Agreement {
  const c: Confusion = { tp: 0, fp: 0, fn: 0, tn: 0 };
  for (const p of pairs) {
    const judge = p.score >= threshold;
    if (judge && p.human) c.tp++;
    else if (judge) c.fp++;
    else if (p.human) c.fn++;
    else c.tn++;
  }
  const n = pairs.length;
  const po = n ? (c.tp + c.tn) / n : 0;
  const pe = n ? ((c.tp + c.fp) * (c.tp + c.fn) + (c.fn + c.tn) * (c.fp + c.tn)) / (n * n) : 0;
  // Cohen's kappa; when chance agreement is total, kappa is 1 for perfect agreement and 0 otherwise.
  const kappa = pe >= 1 ? (po >= 1 ? 1 : 0) : (po - pe) / (1 - pe);
  return {
    threshold,
    n,
    accuracy: Number(po.toFixed(4)),
    kappa: Number(kappa.toFixed(4)),
    confusion: c,
  };
}

/**
 * The threshold on judge scores whose verdicts best match the people: highest kappa, then
 * accuracy, then the closest to the current threshold. Candidates: every 0.05 and every score seen.
 */
export function bestThreshold(
  pairs: ReadonlyArray<{ score: number; human: boolean }>,
  current: number,
): Agreement | undefined {
  if (pairs.length === 0) return undefined;
  const candidates = new Set<number>();
  for (let t = 0.05; t <= 1.0001; t += 0.05) candidates.add(Number(t.toFixed(2)));
  for (const p of pairs) candidates.add(Number(p.score.toFixed(4)));
  let best: Agreement | undefined;
  for (const t of [...candidates].sort((a, b) => a - b)) {
    const a = agreement(pairs, t);
    if (
      !best ||
      a.kappa > best.kappa ||
      (a.kappa === best.kappa && a.accuracy > best.accuracy) ||
      (a.kappa === best.kappa &&
        a.accuracy === best.accuracy &&
        Math.abs(t - current) < Math.abs(best.threshold - current))
    )
      best = a;
  }
  return best;
}
