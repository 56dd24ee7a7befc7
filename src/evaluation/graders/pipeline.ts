/**
 * A grading pipeline: graders by name with weights and thresholds. A grader that throws becomes a
 * failed result with the error as its reason, never a crash. The overall result passes when every
 * grader passes; the score is the weighted mean.
 */
import { AppError } from '../../core/errors.js';
import type { SchemaCache } from '../../tasks/gates.js';
import { contains, jsonSchema, jsonValid, length, nonEmpty, regex } from './code.js';
import type { GradeResult } from './types.js';

export const CODE_GRADERS = [
  'non_empty',
  'length',
  'json_valid',
  'json_schema',
  'regex',
  'contains',
  'not_contains',
] as const;
export type GraderName = (typeof CODE_GRADERS)[number];

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
}

export interface GraderOutcome extends GradeResult {
  grader: GraderName;
  weight: number;
}

export type FailureType =
  | 'empty_response'
  | 'json_invalid'
  | 'schema_violation'
  | 'pattern_mismatch'
  | 'length_violation'
  | 'low_quality';

export interface Evaluation {
  pass: boolean;
  score: number;
  graders: GraderOutcome[];
  failure_type?: FailureType;
}

const FAILURE_OF: Record<GraderName, FailureType> = {
  non_empty: 'empty_response',
  json_valid: 'json_invalid',
  json_schema: 'schema_violation',
  regex: 'pattern_mismatch',
  contains: 'pattern_mismatch',
  not_contains: 'pattern_mismatch',
  length: 'length_violation',
};

/** Most telling first: an empty answer explains every other failure. */
const FAILURE_ORDER: FailureType[] = [
  'empty_response',
  'json_invalid',
  'schema_violation',
  'length_violation',
  'pattern_mismatch',
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
      switch (spec.name) {
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
  const total = graders.reduce((s, g) => s + g.weight, 0);
  const score = total > 0 ? graders.reduce((s, g) => s + g.score * g.weight, 0) / total : 1;
  const failing = new Set(graders.filter((g) => !g.pass).map((g) => FAILURE_OF[g.grader]));
  const failure = FAILURE_ORDER.find((f) => failing.has(f));
  return {
    pass: failing.size === 0,
    score: Number(score.toFixed(4)),
    graders,
    ...(failure ? { failure_type: failure } : {}),
  };
}
