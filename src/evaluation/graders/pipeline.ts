/**
 * A grading pipeline: graders by name with weights and thresholds. A grader that throws becomes a
 * failed result with the error as its reason, never a crash. The overall result passes when every
 * grader passes; the score is the weighted mean.
 */
import { AppError } from '../../core/errors.js';
import type { SchemaCache } from '../../core/jsonSchema.js';
import type { ProviderName } from '../../agents/providers/types.js';
import { contains, jsonSchema, jsonValid, length, nonEmpty, refusal, regex } from './code.js';
import { JUDGE_CRITERIA } from '../../config/defaults.js';
import type { Judge, JudgeCriterion, JudgeResult, JudgeVote } from './judge.js';
import type { GradeResult } from './types.js';

const CODE_GRADERS = [
  'non_empty',
  'length',
  'refusal',
  'json_valid',
  'json_schema',
  'regex',
  'contains',
  'not_contains',
] as const;
export const ALL_GRADERS = [...CODE_GRADERS, ...JUDGE_CRITERIA] as const;
export type GraderName = (typeof ALL_GRADERS)[number];
type CodeGraderName = (typeof CODE_GRADERS)[number];

export interface GraderSpec {
  name: GraderName;
  weight?: number;
  /** A grader passes when its score reaches this (default: the grader's own verdict). */
  threshold?: number;
  min?: number;
  max?: number;
  pattern?: string;
  flags?: string;
  values?: string[];
  mode?: 'all' | 'any';
  case_sensitive?: boolean;
  /** Model graders: judges as `provider/model`; several vote by median. Default: the configured judge. */
  judges?: string[];
  /** Model graders: votes per judge (self-consistency). Default: the call's judge_repeats, else 1. */
  repeats?: number;
}

export interface GraderOutcome extends GradeResult {
  grader: GraderName;
  weight: number;
  /** Model graders with several votes: how far apart their scores were. */
  disagreement?: number;
  /** Model graders with several votes: each vote. */
  votes?: JudgeVote[];
  /** Model graders with several votes: pass votes, all passed (pass^k), score spread. */
  agreement?: JudgeResult['agreement'];
  /** The votes disagreed beyond the bound: the verdict is reported but never learned from. */
  uncertain?: true;
  /** Model graders: which model(s) judged, what it cost and how long it took. */
  judged_by?: string;
  cost_usd?: number;
  latency_ms?: number;
  /**
   * Set when the grader could not grade (its judge's provider failed, its breaker is open, no
   * budget or provider): the output was not judged on this criterion, so it neither passes nor
   * fails it, and nothing is learned from it.
   */
  ungraded?: true;
}

export type FailureType =
  | 'empty_response'
  | 'json_invalid'
  | 'schema_violation'
  | 'pattern_mismatch'
  | 'length_violation'
  | 'hallucination'
  | 'unsafe_output'
  | 'refusal'
  | 'low_quality';

export interface Evaluation {
  pass: boolean;
  score: number;
  graders: GraderOutcome[];
  failure_type?: FailureType;
  /** Criteria that could not be graded, and why (a judge outage is not the agent's failure). */
  ungraded?: Array<{ grader: GraderName; reason: string }>;
  /** Criteria whose judges' votes disagreed: their failures set no failure_type and teach nothing. */
  uncertain?: GraderName[];
  /** What the model graders cost and how long they took (they run concurrently). */
  judge_cost_usd?: number;
  judge_latency_ms?: number;
}

const FAILURE_OF: Record<GraderName, FailureType> = {
  non_empty: 'empty_response',
  json_valid: 'json_invalid',
  json_schema: 'schema_violation',
  regex: 'pattern_mismatch',
  contains: 'pattern_mismatch',
  not_contains: 'pattern_mismatch',
  length: 'length_violation',
  refusal: 'refusal',
  relevance: 'low_quality',
  completeness: 'low_quality',
  accuracy: 'hallucination',
  format: 'low_quality',
  code_quality: 'low_quality',
  safety: 'unsafe_output',
  performance: 'low_quality',
};

/** Most telling first: an empty answer explains every other failure. */
const FAILURE_ORDER: FailureType[] = [
  'empty_response',
  'refusal',
  'unsafe_output',
  'json_invalid',
  'schema_violation',
  'length_violation',
  'pattern_mismatch',
  'hallucination',
  'low_quality',
];

/** @throws AppError INVALID_INPUT for a spec missing what its grader needs. */
export function checkSpec(spec: GraderSpec, schema: Record<string, unknown> | undefined): void {
  if (spec.name === 'json_schema' && !schema)
    throw new AppError('INVALID_INPUT', 'json_schema needs output_schema', {
      hint: 'Pass output_schema with the JSON Schema',
    });
  if (spec.name === 'regex' && !spec.pattern) throw new AppError('INVALID_INPUT', 'regex needs pattern');
  if ((spec.name === 'contains' || spec.name === 'not_contains') && !spec.values?.length) {
    throw new AppError('INVALID_INPUT', `${spec.name} needs values`, { hint: 'values: ["..."]' });
  }
}

export function isJudge(name: GraderName): name is JudgeCriterion {
  return (JUDGE_CRITERIA as readonly string[]).includes(name);
}

function summarize(graders: GraderOutcome[]): Evaluation {
  const graded = graders.filter((g) => !g.ungraded);
  const ungraded = graders.filter((g) => g.ungraded).map((g) => ({ grader: g.grader, reason: g.reason }));
  const total = graded.reduce((sum, g) => sum + g.weight, 0);
  const score = total > 0 ? graded.reduce((sum, g) => sum + g.score * g.weight, 0) / total : 1;
  const failed = graded.filter((g) => !g.pass);
  // An uncertain verdict still fails the output, but names no failure type: nothing is learned.
  const failing = new Set(failed.filter((g) => !g.uncertain).map((g) => FAILURE_OF[g.grader]));
  const failure = FAILURE_ORDER.find((f) => failing.has(f));
  const uncertain = graders.filter((g) => g.uncertain).map((g) => g.grader);
  const judged = graders.filter((g) => g.cost_usd !== undefined);
  return {
    pass: failed.length === 0,
    score: Number(score.toFixed(4)),
    graders,
    ...(failure ? { failure_type: failure } : {}),
    ...(ungraded.length ? { ungraded } : {}),
    ...(uncertain.length ? { uncertain } : {}),
    ...(judged.length
      ? {
          judge_cost_usd: Number(judged.reduce((s, g) => s + g.cost_usd!, 0).toFixed(6)),
          judge_latency_ms: Math.max(...judged.map((g) => g.latency_ms ?? 0)),
        }
      : {}),
  };
}

export interface JudgeContext {
  judge?: Judge | undefined;
  prompt: string;
  signal?: AbortSignal | undefined;
  /** Model graders pass at this score unless a spec sets its threshold. Default 0.7. */
  defaultThreshold?: number;
  /** Votes per judge unless a spec sets `repeats`. Default 1. */
  repeats?: number | undefined;
  /** The provider/model whose output is graded (judges run on another when one is configured). */
  judged?: { provider: string; model: string } | undefined;
}

/** Code graders and model graders (asked concurrently), in the order given. Never throws. */
export async function gradeAsync(
  output: string,
  specs: readonly GraderSpec[],
  schema: Record<string, unknown> | undefined,
  schemas: SchemaCache,
  ctx: JudgeContext,
): Promise<Evaluation> {
  const outcomes = await Promise.all(
    specs.map(async (spec): Promise<GraderOutcome> => {
      if (!isJudge(spec.name)) return grade(output, [spec], schema, schemas).graders[0]!;
      const weight = spec.weight ?? 1;
      if (!ctx.judge)
        return {
          grader: spec.name,
          weight,
          pass: false,
          score: 0,
          reason: 'no LLM provider is configured to judge with',
          ungraded: true,
        };
      const targets = (spec.judges ?? []).map((j) => {
        const [provider, ...rest] = j.split('/');
        return { provider: provider as ProviderName, ...(rest.length ? { model: rest.join('/') } : {}) };
      });
      try {
        const r = await ctx.judge.grade(
          spec.name,
          ctx.prompt,
          output,
          spec.threshold ?? ctx.defaultThreshold ?? 0.7,
          { judges: targets, signal: ctx.signal, repeats: spec.repeats ?? ctx.repeats, judged: ctx.judged },
        );
        return {
          grader: spec.name,
          weight,
          pass: r.pass,
          score: r.score,
          reason: r.reason,
          ...(r.disagreement !== undefined ? { disagreement: r.disagreement } : {}),
          ...(r.judges ? { votes: r.judges } : {}),
          ...(r.agreement ? { agreement: r.agreement } : {}),
          ...(r.uncertain ? { uncertain: true as const } : {}),
          ...(r.ungraded ? { ungraded: true as const } : {}),
          ...(r.judged_by ? { judged_by: r.judged_by } : {}),
          cost_usd: r.cost_usd,
          latency_ms: r.latency_ms,
        };
      } catch (error) {
        return {
          grader: spec.name,
          weight,
          pass: false,
          score: 0,
          reason: `grader failed: ${(error as Error).message}`,
          ungraded: true,
        };
      }
    }),
  );
  return summarize(outcomes);
}

export function grade(
  output: string,
  specs: readonly GraderSpec[],
  schema: Record<string, unknown> | undefined,
  schemas: SchemaCache,
): Evaluation {
  const graders = specs.map((spec): GraderOutcome => {
    const weight = spec.weight ?? 1;
    let r: GradeResult;
    try {
      switch (spec.name as CodeGraderName) {
        case 'non_empty':
          r = nonEmpty({ output });
          break;
        case 'length':
          r = length({
            output,
            ...(spec.min !== undefined ? { min: spec.min } : {}),
            ...(spec.max !== undefined ? { max: spec.max } : {}),
          });
          break;
        case 'json_valid':
          r = jsonValid({ output });
          break;
        case 'refusal':
          r = refusal({ output });
          break;
        case 'json_schema':
          r = jsonSchema({ output, schema: schema!, schemas });
          break;
        case 'regex':
          r = regex({ output, pattern: spec.pattern!, ...(spec.flags ? { flags: spec.flags } : {}) });
          break;
        case 'contains':
        case 'not_contains':
          r = contains({
            output,
            values: spec.values!,
            mode: spec.mode ?? 'all',
            caseSensitive: spec.case_sensitive ?? false,
            negate: spec.name === 'not_contains',
          });
          break;
      }
    } catch (error) {
      r = { pass: false, score: 0, reason: `grader failed: ${(error as Error).message}` };
    }
    const pass = spec.threshold !== undefined ? r.score >= spec.threshold : r.pass;
    return { grader: spec.name, weight, ...r, pass };
  });
  return summarize(graders);
}
