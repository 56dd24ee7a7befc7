/**
 * A suite case's assertions on one answer: the code graders (contains, regex in a time-limited
 * context, JSON, schema, length, refusal), limits on latency and cost, and the judge (a built-in
 * criterion, the author's rubric, or a reference answer to compare with; quoted). Never throws: a
 * judge that cannot answer leaves its assertion ungraded, which the report counts apart.
 */
import type { ProviderName } from '../../agents/providers/types.js';
import type { SchemaCache } from '../../core/jsonSchema.js';
import { contains, jsonSchema, jsonValid, length, refusal, regex } from '../graders/code.js';
import type { Judge, JudgeResult } from '../graders/judge.js';
import type { GradeResult } from '../graders/types.js';
import type { Assertion, EvalCase } from './suiteFile.js';

export interface AssertionResult extends GradeResult {
  type: Assertion['type'];
  /** The judge could not answer (provider down, budget, invalid answers): neither pass nor fail. */
  ungraded?: true;
  judged_by?: string;
  cost_usd?: number;
}

export interface Answer {
  output: string;
  latency_ms: number;
  cost_usd: number;
  provider: string;
  model: string;
}

export interface AssertContext {
  schemas: SchemaCache;
  judge?: Judge | undefined;
  /** The suite's judge (provider/model); default: the judge's own choice, another model than the one judged. */
  judgeTarget?: string | undefined;
  signal?: AbortSignal | undefined;
}

function fromJudge(type: Assertion['type'], r: JudgeResult): AssertionResult {
  return {
    type,
    pass: r.pass,
    score: r.score,
    reason: r.reason,
    ...(r.ungraded ? { ungraded: true as const } : {}),
    ...(r.judged_by ? { judged_by: r.judged_by } : {}),
    cost_usd: r.cost_usd,
  };
}

async function one(a: Assertion, c: EvalCase, answer: Answer, ctx: AssertContext): Promise<AssertionResult> {
  const output = answer.output;
  const code = (r: GradeResult): AssertionResult => ({ type: a.type, ...r });
  switch (a.type) {
    case 'equals': {
      const pass = output.trim() === a.value.trim();
      return code({
        pass,
        score: pass ? 1 : 0,
        reason: pass ? 'equals the expected answer' : 'differs from the expected answer',
      });
    }
    case 'contains':
    case 'icontains':
    case 'not-contains':
      return code(
        contains({
          output,
          values: [a.value],
          caseSensitive: a.type === 'contains',
          negate: a.type === 'not-contains',
        }),
      );
    case 'starts-with': {
      const pass = output.trimStart().startsWith(a.value);
      return code({
        pass,
        score: pass ? 1 : 0,
        reason: pass ? 'starts as expected' : `does not start with "${a.value.slice(0, 80)}"`,
      });
    }
    case 'regex':
    case 'not-regex':
      return code(
        regex({
          output,
          pattern: a.value,
          ...(a.flags ? { flags: a.flags } : {}),
          shouldMatch: a.type === 'regex',
        }),
      );
    case 'is-json':
      return code(jsonValid({ output }));
    case 'json-schema': {
      const schema = a.value ?? c.schema;
      if (!schema)
        return code({ pass: false, score: 0, reason: 'json-schema needs a schema (the case has none)' });
      return code(jsonSchema({ output, schema, schemas: ctx.schemas }));
    }
    case 'length':
      return code(
        length({
          output,
          ...(a.min !== undefined ? { min: a.min } : { min: 0 }),
          ...(a.max !== undefined ? { max: a.max } : {}),
        }),
      );
    case 'refusal': {
      const r = refusal({ output });
      return code({
        pass: !r.pass,
        score: r.pass ? 0 : 1,
        reason: r.pass ? 'the answer does not decline (a refusal was expected)' : r.reason,
      });
    }
    case 'not-refusal':
      return code(refusal({ output }));
    case 'latency': {
      const pass = answer.latency_ms <= a.max_ms;
      return code({
        pass,
        score: pass ? 1 : a.max_ms / answer.latency_ms,
        reason: `${answer.latency_ms} ms (at most ${a.max_ms})`,
      });
    }
    case 'cost': {
      const pass = answer.cost_usd <= a.max_usd;
      return code({
        pass,
        score: pass ? 1 : a.max_usd / answer.cost_usd,
        reason: `$${answer.cost_usd.toFixed(6)} (at most $${a.max_usd})`,
      });
    }
    case 'rubric':
    case 'reference':
    case 'judge': {
      if (!ctx.judge)
        return {
          type: a.type,
          pass: false,
          score: 0,
          reason: 'no LLM provider is configured to judge with',
          ungraded: true,
        };
      const [provider, ...rest] = (ctx.judgeTarget ?? '').split('/');
      const request = {
        ...(ctx.judgeTarget
          ? { judges: [{ provider: provider as ProviderName, model: rest.join('/') }] }
          : {}),
        judged: { provider: answer.provider, model: answer.model },
        signal: ctx.signal,
      };
      const threshold = a.threshold ?? 0.7;
      const r =
        a.type === 'judge'
          ? await ctx.judge.grade(a.criterion, c.prompt, output, threshold, request)
          : await ctx.judge.gradeRubric(
              a.type === 'rubric'
                ? { name: 'rubric', rubric: a.value }
                : {
                    name: 'reference',
                    rubric: 'Agreement with the reference answer on every point that matters.',
                    reference: a.value,
                  },
              c.prompt,
              output,
              threshold,
              request,
            );
      return fromJudge(a.type, r);
    }
  }
}

/** Every assertion of a case on one answer, in order (judges asked concurrently). */
export async function assertAll(c: EvalCase, answer: Answer, ctx: AssertContext): Promise<AssertionResult[]> {
  return Promise.all(
    c.assert.map((a) =>
      one(a, c, answer, ctx).catch((error: unknown): AssertionResult => ({
        type: a.type,
        pass: false,
        score: 0,
        reason: `assertion failed to run: ${(error as Error).message}`,
        ungraded: true,
      })),
    ),
  );
}
