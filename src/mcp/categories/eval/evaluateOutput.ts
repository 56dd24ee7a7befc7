import { z } from 'zod';
import { checkSpec, grade } from '../../../evaluation/graders/pipeline.js';
import type { GraderSpec } from '../../../evaluation/graders/pipeline.js';
import { SchemaCache } from '../../../tasks/gates.js';
import { gradersField } from '../../schemas/agents.js';
import type { Services } from '../../services.js';
import { defineTool, ok } from '../../tool.js';

const input = z
  .object({
    output: z.string().max(5_000_000).describe('The output to grade (e.g. an agent answer or your own work)'),
    prompt: z.string().max(200_000).optional().describe('What the output answers (kept for context)'),
    graders: gradersField.describe('Which checks to run'),
    output_schema: z.record(z.string(), z.unknown()).optional().describe('JSON Schema for json_schema'),
  })
  .strict();

const output = z.object({
  pass: z.boolean(),
  score: z.number(),
  failure_type: z.string().optional(),
  graders: z.array(
    z.object({
      grader: z.string(),
      pass: z.boolean(),
      score: z.number(),
      reason: z.string(),
      weight: z.number(),
    }),
  ),
});

export function evaluateOutput(_services: Services) {
  const schemas = new SchemaCache();
  return defineTool({
    name: 'evaluate_output',
    title: 'Grade an output',
    description:
      "Check any output with code graders: non-empty, length, valid JSON (also in a ```json block), JSON Schema, regex (time-limited), contains / not_contains. Returns pass, a 0-1 score, each grader's reason and the failure type. Use it to gate your own work before completing a task.",
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    handler(args) {
      const specs = args.graders as GraderSpec[];
      for (const s of specs) checkSpec(s, args.output_schema);
      if (args.output_schema) schemas.validator(args.output_schema);
      const e = grade(args.output, specs, args.output_schema, schemas);
      const text = [
        `${e.pass ? 'PASS' : 'FAIL'} (score ${e.score}${e.failure_type ? `, ${e.failure_type}` : ''})`,
        ...e.graders.map((g) => `${g.pass ? 'ok  ' : 'FAIL'} ${g.grader}: ${g.reason}`),
      ].join('\n');
      return Promise.resolve(ok(e, text));
    },
  });
}
