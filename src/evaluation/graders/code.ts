/**
 * Code graders: deterministic checks of an output. Each returns { pass, score, reason }.
 */
import vm from 'node:vm';
import { extractJson } from '../../agents/jsonOutput.js';
import type { SchemaCache } from '../../core/jsonSchema.js';
import type { GradeInput, GradeResult } from './types.js';

export function nonEmpty({ output }: GradeInput): GradeResult {
  const ok = output.trim().length > 0;
  return {
    pass: ok,
    score: ok ? 1 : 0,
    reason: ok ? 'output is not empty' : 'output is empty or whitespace',
  };
}

/**
 * Openings by which a model declines the task. Only an answer that starts with one and stays short
 * is a refusal: a long answer that mentions what it cannot do and then does the rest is not.
 */
const REFUSAL =
  /^(?:\W{0,3})(?:i'?m sorry|i am sorry|sorry|unfortunately|apologies|i apologi[sz]e)?[,.!\s]*(?:but\s+)?(?:i|as an ai[^,.]*,\s*i)\s*(?:'m|am)?\s*(?:not able|unable|can(?:no|')t|cannot|won'?t be able|will not|won'?t|must decline|am not allowed|'m not allowed|do not feel comfortable|don'?t feel comfortable)\b/i;
const REFUSAL_MAX_CHARS = 600;

/** Fails an answer that declines the task instead of doing it ("Sorry, I am not able to do that."). */
export function refusal({ output }: GradeInput): GradeResult {
  const text = output.trim().replace(/[’‘]/g, "'");
  const refused = text.length > 0 && text.length <= REFUSAL_MAX_CHARS && REFUSAL.test(text);
  return {
    pass: !refused,
    score: refused ? 0 : 1,
    reason: refused
      ? `the answer declines the task: "${text.slice(0, 120)}"`
      : 'the answer does not decline the task',
  };
}

export function length({
  output,
  min = 1,
  max = 100_000,
}: GradeInput & { min?: number; max?: number }): GradeResult {
  const n = output.trim().length;
  if (n < min)
    return {
      pass: false,
      score: min === 0 ? 0 : n / min,
      reason: `${n} characters; at least ${min} required`,
    };
  if (n > max) return { pass: false, score: max / n, reason: `${n} characters; at most ${max} allowed` };
  return { pass: true, score: 1, reason: `${n} characters, within ${min}-${max}` };
}

export function jsonValid({ output }: GradeInput): GradeResult {
  const r = extractJson(output);
  return r.ok ? { pass: true, score: 1, reason: 'valid JSON' } : { pass: false, score: 0, reason: r.reason };
}

export function jsonSchema({
  output,
  schema,
  schemas,
}: GradeInput & { schema: Record<string, unknown>; schemas: SchemaCache }): GradeResult {
  const r = extractJson(output);
  if (!r.ok) return { pass: false, score: 0, reason: r.reason };
  const violations = schemas.violations(schema, r.value);
  if (violations.length === 0) return { pass: true, score: 1, reason: 'JSON matches the schema' };
  return { pass: false, score: 1 / (1 + violations.length), reason: violations.slice(0, 10).join('; ') };
}

/** Regexes run in a separate VM context with a time limit, so a catastrophic pattern cannot hang the server. */
const REGEX_TIMEOUT_MS = 100;
const regexScript = new vm.Script('new RegExp(source, flags).test(input)');

export function regex({
  output,
  pattern,
  flags = '',
  shouldMatch = true,
}: GradeInput & { pattern: string; flags?: string; shouldMatch?: boolean }): GradeResult {
  let matched: boolean;
  try {
    matched = regexScript.runInNewContext(
      { source: pattern, flags, input: output.slice(0, 1_000_000) },
      { timeout: REGEX_TIMEOUT_MS },
    ) as boolean;
  } catch (error) {
    const timedOut = (error as { code?: string }).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT';
    return {
      pass: false,
      score: 0,
      reason: timedOut
        ? `pattern /${pattern}/ took over ${REGEX_TIMEOUT_MS} ms (catastrophic backtracking?)`
        : `invalid pattern /${pattern}/: ${(error as Error).message}`,
    };
  }
  const pass = matched === shouldMatch;
  return {
    pass,
    score: pass ? 1 : 0,
    reason: `${matched ? 'matches' : 'does not match'} /${pattern}/${flags}`,
  };
}

export function contains({
  output,
  values,
  mode = 'all',
  caseSensitive = false,
  negate = false,
}: GradeInput & {
  values: string[];
  mode?: 'all' | 'any';
  caseSensitive?: boolean;
  negate?: boolean;
}): GradeResult {
  const hay = caseSensitive ? output : output.toLowerCase();
  const found = values.filter((v) => hay.includes(caseSensitive ? v : v.toLowerCase()));
  if (negate) {
    const pass = mode === 'all' ? found.length === 0 : found.length < values.length;
    return {
      pass,
      score: values.length ? 1 - found.length / values.length : 1,
      reason: found.length
        ? `contains forbidden: ${found.join(', ')}`
        : 'contains none of the forbidden values',
    };
  }
  const pass = mode === 'all' ? found.length === values.length : found.length > 0;
  const missing = values.filter((v) => !found.includes(v));
  return {
    pass,
    score: values.length ? found.length / values.length : 1,
    reason: missing.length ? `missing: ${missing.join(', ')}` : 'contains every value',
  };
}
