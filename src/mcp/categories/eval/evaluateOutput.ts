import { z } from 'zod';
import { checkSpec, gradeAsync } from '../../../evaluation/graders/pipeline.js';
import type { GraderSpec } from '../../../evaluation/graders/pipeline.js';
import { SchemaCache } from '../../../core/jsonSchema.js';
import { evaluationSchema, gradersField, judgeRepeatsField } from '../../schemas/agents.js';
import type { Services } from '../../services.js';
import { defineTool, ok } from '../../tool.js';

const input = z
  .object({
    output: z.string().max(5_000_000).describe('The output to grade (e.g. an agent answer or your own work)'),
    prompt: z.string().max(200_000).optional().describe('What the output answers (judges need it)'),
    graders: gradersField.describe('Which checks to run'),
    output_schema: z.record(z.string(), z.unknown()).optional().describe('JSON Schema for json_schema'),
    judge_repeats: judgeRepeatsField,
  })
  .strict();

export function evaluateOutput(services: Pick<Services, 'graded'>) {
  const schemas = new SchemaCache();
  return defineTool({
    name: 'evaluate_output',
    title: 'Grade an output',
    description:
      "Check any output with code graders (non-empty, length, JSON, JSON Schema, time-limited regex, contains / not_contains) and LLM-judge graders (relevance, completeness, accuracy, format, code_quality, safety, performance; pass at 0.7). Returns pass, a 0-1 score, each grader's reason and the failure type. Use it to gate your own work.",
    inputSchema: input,
    outputSchema: evaluationSchema,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    async handler(args, ctx) {
      const specs = args.graders as GraderSpec[];
      for (const s of specs) checkSpec(s, args.output_schema);
      if (args.output_schema) schemas.validator(args.output_schema);
      const e = await gradeAsync(args.output, specs, args.output_schema, schemas, {
        judge: services.graded.judge,
        prompt: args.prompt ?? '',
        signal: ctx.signal,
        repeats: args.judge_repeats,
      });
      const text = [
        `${e.pass ? 'PASS' : 'FAIL'} (score ${e.score}${e.failure_type ? `, ${e.failure_type}` : ''})`,
        ...e.graders.map(
          (g) =>
            `${g.ungraded ? 'n/a ' : g.pass ? 'ok  ' : 'FAIL'} ${g.grader}: ${g.reason}${g.agreement ? ` [${g.agreement.pass_votes}/${g.agreement.votes} votes pass, spread ${g.agreement.spread}${g.uncertain ? ', UNCERTAIN' : ''}]` : ''}`,
        ),
      ].join('\n');
      return ok(e, text);
    },
  });
}
