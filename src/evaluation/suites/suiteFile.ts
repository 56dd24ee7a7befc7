/**
 * Evaluation suites as files: YAML checked against the schema we ship (data/schemas/
 * eval-suite.schema.json) with errors that name the file, line and field, then expanded into cases
 * ({{variables}} filled from the suite's and the case's vars, the suite's defaults applied). Nothing
 * in a suite runs code: assertions are data the runner interprets.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import type { ErrorObject } from 'ajv';
import { AppError } from '../../core/errors.js';
import type { SchemaCache } from '../../core/jsonSchema.js';

export type Assertion =
  | { type: 'equals' | 'contains' | 'icontains' | 'not-contains' | 'starts-with'; value: string }
  | { type: 'regex' | 'not-regex'; value: string; flags?: string }
  | { type: 'is-json' | 'refusal' | 'not-refusal' }
  | { type: 'json-schema'; value?: Record<string, unknown> }
  | { type: 'length'; min?: number; max?: number }
  | { type: 'latency'; max_ms: number }
  | { type: 'cost'; max_usd: number }
  | { type: 'rubric' | 'reference'; value: string; threshold?: number }
  | {
      type: 'judge';
      criterion:
        'relevance' | 'completeness' | 'accuracy' | 'format' | 'code_quality' | 'safety' | 'performance';
      threshold?: number;
    };

export interface EvalCase {
  id: string;
  description?: string;
  prompt: string;
  system?: string;
  schema?: Record<string, unknown>;
  assert: Assertion[];
  tags: string[];
  /** Runs per model; the case passes on a model only if every run passes (pass^k). */
  repeat: number;
  origin?: { pattern_id?: string; failure_type?: string; source?: string };
}

export interface EvalSuite {
  name: string;
  description?: string;
  providers?: string[];
  judge?: string;
  maxTokens?: number;
  temperature?: number;
  cases: EvalCase[];
  /** The file it was read from, and a hash of its content (a run records which version it ran). */
  file: string;
  hash: string;
}

interface RawCase {
  id?: string;
  description?: string;
  prompt: string;
  system?: string;
  vars?: Record<string, string | number | boolean>;
  schema?: Record<string, unknown>;
  assert?: Assertion[];
  tags?: string[];
  repeat?: number;
  origin?: EvalCase['origin'];
}

interface RawSuite {
  name: string;
  description?: string;
  providers?: string[];
  judge?: string;
  vars?: Record<string, string | number | boolean>;
  defaults?: {
    system?: string;
    assert?: Assertion[];
    repeat?: number;
    max_tokens?: number;
    temperature?: number;
    tags?: string[];
  };
  cases: RawCase[];
}

/** Largest suite file read. */
const MAX_SUITE_BYTES = 8 * 1024 * 1024;

let schemaText: string | undefined;
async function suiteSchema(dataDir: string): Promise<Record<string, unknown>> {
  schemaText ??= await fs.readFile(path.join(dataDir, 'schemas', 'eval-suite.schema.json'), 'utf8');
  return JSON.parse(schemaText) as Record<string, unknown>;
}

/** `cases[3].assert[0]` from `/cases/3/assert/0`. */
function fieldOf(pointer: string): string {
  return (
    pointer
      .split('/')
      .slice(1)
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
      .reduce((out, p) => (/^\d+$/.test(p) ? `${out}[${p}]` : out ? `${out}.${p}` : p), '') || '(top level)'
  );
}

/** The errors worth showing: `if`/`then` wrappers say nothing a nested error does not. */
function readable(errors: readonly ErrorObject[]): ErrorObject[] {
  const useful = errors.filter((e) => e.keyword !== 'if' && !(e.keyword === 'anyOf' && errors.length > 1));
  const seen = new Set<string>();
  return useful.filter((e) => {
    const key = `${e.instancePath}|${e.message}|${JSON.stringify(e.params)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * Reads and checks a suite file.
 * @throws AppError INVALID_INPUT naming the file, line and field of every problem (YAML syntax,
 *   schema, unknown variables, duplicate case ids); NOT_FOUND when there is no such file.
 */
export async function loadSuite(file: string, dataDir: string, schemas: SchemaCache): Promise<EvalSuite> {
  const stat = await fs.stat(file).catch(() => undefined);
  if (!stat?.isFile()) throw new AppError('NOT_FOUND', `No suite file at ${file}`);
  if (stat.size > MAX_SUITE_BYTES)
    throw new AppError(
      'INVALID_INPUT',
      `${file} is ${stat.size} bytes; a suite is at most ${MAX_SUITE_BYTES}`,
    );
  const text = await fs.readFile(file, 'utf8');
  return parseSuite(text, file, await suiteSchema(dataDir), schemas);
}

/** Checks and expands a suite's text (see loadSuite). */
function parseSuite(
  text: string,
  file: string,
  schema: Record<string, unknown>,
  schemas: SchemaCache,
): EvalSuite {
  const name = path.basename(file);
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number | undefined) => {
    if (offset === undefined) return `${name}`;
    const p = lines.linePos(offset);
    return `${name}:${p.line}:${p.col}`;
  };
  if (doc.errors.length)
    throw new AppError(
      'INVALID_INPUT',
      `${name} is not valid YAML: ${doc.errors
        .slice(0, 5)
        .map((e) => `${at(e.pos[0])}: ${e.message.split('\n')[0]}`)
        .join('; ')}`,
      { hint: 'Fix the YAML syntax at the line named' },
    );
  const value = doc.toJS({ maxAliasCount: 100 }) as unknown;
  const validate = schemas.validator(schema);
  if (!validate(value)) {
    const problems = readable(validate.errors ?? [])
      .slice(0, 10)
      .map((e) => {
        const keys = e.instancePath
          .split('/')
          .slice(1)
          .map((k) => (/^\d+$/.test(k) ? Number(k) : k.replace(/~1/g, '/').replace(/~0/g, '~')));
        const extra =
          e.keyword === 'additionalProperties'
            ? (e.params as { additionalProperty: string }).additionalProperty
            : undefined;
        const node = doc.getIn(extra ? [...keys, extra] : keys, true) as
          { range?: [number, number, number] } | undefined;
        const where = node?.range ? at(node.range[0]) : at(undefined);
        const what =
          extra !== undefined
            ? `unknown field "${extra}"`
            : e.keyword === 'enum'
              ? `${e.message}: ${((e.params as { allowedValues: unknown[] }).allowedValues ?? []).join(', ')}`
              : e.message;
        return `${where}: ${fieldOf(e.instancePath)} ${what}`;
      });
    throw new AppError('INVALID_INPUT', `${name} is not a valid suite: ${problems.join('; ')}`, {
      hint: 'The suite format is data/schemas/eval-suite.schema.json (README: Evaluation suites)',
    });
  }
  const raw = value as RawSuite;
  const lineOfCase = (i: number) => {
    const node = doc.getIn(['cases', i], true) as { range?: [number, number, number] } | undefined;
    return at(node?.range?.[0]);
  };
  const ids = new Map<string, number>();
  const cases = raw.cases.map((c, i): EvalCase => {
    const id = c.id ?? `case-${i + 1}`;
    const earlier = ids.get(id);
    if (earlier !== undefined)
      throw new AppError(
        'INVALID_INPUT',
        `${lineOfCase(i)}: case id "${id}" is used twice (also at ${lineOfCase(earlier)})`,
      );
    ids.set(id, i);
    const vars = { ...raw.vars, ...c.vars };
    const fill = (s: string, field: string) =>
      s.replace(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g, (_m, v: string) => {
        if (!(v in vars))
          throw new AppError(
            'INVALID_INPUT',
            `${lineOfCase(i)}: cases[${i}].${field} uses {{${v}}}, which no vars define`,
            { hint: `Define it in the case's vars or the suite's vars` },
          );
        return String(vars[v]);
      });
    const system = c.system ?? raw.defaults?.system;
    const assertions = [...(raw.defaults?.assert ?? []), ...(c.assert ?? [])].map((a, j): Assertion =>
      'value' in a && typeof a.value === 'string'
        ? ({ ...a, value: fill(a.value, `assert[${j}].value`) } as Assertion)
        : a,
    );
    if (c.schema) schemas.validator(c.schema);
    for (const a of assertions)
      if (a.type === 'json-schema' && typeof a.value === 'object') schemas.validator(a.value);
    return {
      id,
      ...(c.description ? { description: c.description } : {}),
      prompt: fill(c.prompt, 'prompt'),
      ...(system ? { system: fill(system, 'system') } : {}),
      ...(c.schema ? { schema: c.schema } : {}),
      assert: assertions,
      tags: [...new Set([...(raw.defaults?.tags ?? []), ...(c.tags ?? [])])],
      repeat: c.repeat ?? raw.defaults?.repeat ?? 1,
      ...(c.origin ? { origin: c.origin } : {}),
    };
  });
  return {
    name: raw.name,
    ...(raw.description ? { description: raw.description } : {}),
    ...(raw.providers ? { providers: raw.providers } : {}),
    ...(raw.judge ? { judge: raw.judge } : {}),
    ...(raw.defaults?.max_tokens ? { maxTokens: raw.defaults.max_tokens } : {}),
    ...(raw.defaults?.temperature !== undefined ? { temperature: raw.defaults.temperature } : {}),
    cases,
    file,
    hash: createHash('sha256').update(text).digest('hex').slice(0, 16),
  };
}
