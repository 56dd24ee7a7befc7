/**
 * Issue 5 benchmarks (code graders): the default-style pipeline on a 1 MB output, and JSON Schema
 * grading with a cached compiled schema vs compiling per call. In-process: these are CPU costs.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { median, root } from '../lib.mjs';

const load = (p) => import(pathToFileURL(path.join(root, 'dist', p)).href);
const { grade } = await load('evaluation/graders/pipeline.js');
const { SchemaCache } = await load('core/jsonSchema.js');
const { Ajv } = await import('ajv');
const addFormats = (await import('ajv-formats')).default;

function time(fn, n) {
  const runs = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    fn(i);
    runs.push(performance.now() - t);
  }
  return runs;
}

export default {
  name: 'eval',
  title: 'Evaluation: code graders',
  async run() {
    const schemas = new SchemaCache();
    const big = JSON.stringify({
      items: Array.from({ length: 24_000 }, (_, i) => ({ id: i, name: `item ${i}`, ok: i % 2 === 0 })),
    });
    const specs = [
      { name: 'non_empty' },
      { name: 'length', max: 2_000_000 },
      { name: 'json_valid' },
      { name: 'contains', values: ['item 23999'] },
      { name: 'regex', pattern: '"id":\\s*\\d+' },
    ];
    time(() => grade(big, specs, undefined, schemas), 3);
    const pipeline = median(time(() => grade(big, specs, undefined, schemas), 15));

    const schema = {
      type: 'object',
      required: ['answer', 'sources'],
      properties: {
        answer: { type: 'string', minLength: 1 },
        sources: { type: 'array', items: { type: 'string', format: 'uri' } },
      },
    };
    const doc = JSON.stringify({
      answer: 'forty-two',
      sources: ['https://example.com/a', 'https://example.com/b'],
    });
    const jsonSpec = [{ name: 'json_schema' }];
    time(() => grade(doc, jsonSpec, schema, schemas), 200);
    const cached = time(() => grade(doc, jsonSpec, schema, schemas), 2000);
    const perCall = time(() => {
      const ajv = new Ajv({ allErrors: true, strict: false, logger: false });
      addFormats(ajv);
      ajv.compile(schema)(JSON.parse(doc));
    }, 200);
    const cachedPerSec = 1000 / median(cached);
    const compilePerSec = 1000 / median(perCall);
    return {
      rows: [
        {
          metric: `code-grader pipeline (5 graders) on a ${(big.length / 1e6).toFixed(2)} MB output, median`,
          value: pipeline,
          unit: 'ms',
        },
        { metric: 'JSON Schema grading, cached schema', value: Math.round(cachedPerSec), unit: 'outputs/s' },
        {
          metric: 'JSON Schema validation, compiling the schema per call',
          value: Math.round(compilePerSec),
          unit: 'outputs/s',
        },
        { metric: 'cached / compile-per-call throughput', value: cachedPerSec / compilePerSec, unit: 'x' },
      ],
      notes: [
        'The regex grader runs in a vm context with a 100 ms limit, so a catastrophic pattern costs at most that; the 1 MB row includes one regex.',
        'Cached grading includes extracting the JSON from the answer; the compile-per-call baseline only compiles and validates.',
      ],
    };
  },
};
