/**
 * JSON Schema validation with ajv, compiled once per distinct schema: output schemas of tasks and
 * agent calls, plans, judges' answers and evaluation cases all go through one SchemaCache.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Ajv, ValidateFunction } from 'ajv';
import { AppError } from './errors.js';

/**
 * ajv and ajv-formats take ~100 ms to load; most sessions never check a schema. Both are
 * CommonJS, so a lazy require keeps validation synchronous.
 */
function createAjv(): Ajv {
  const require = createRequire(import.meta.url);
  const { Ajv: AjvClass } = require('ajv') as { Ajv: new (options: object) => Ajv };
  const formats = require('ajv-formats') as ((ajv: Ajv) => Ajv) & { default?: (ajv: Ajv) => Ajv };
  // logger: false, or unknown formats in a user's schema would print warnings on every compile.
  const ajv = new AjvClass({ allErrors: true, strict: false, logger: false });
  (formats.default ?? formats)(ajv);
  return ajv;
}

const MAX_SCHEMA_BYTES = 64 * 1024;

export class SchemaCache {
  private ajvInstance: Ajv | undefined;
  private readonly compiled = new Map<string, ValidateFunction>();

  private get ajv(): Ajv {
    this.ajvInstance ??= createAjv();
    return this.ajvInstance;
  }

  /**
   * Compiles (once per distinct schema) and returns the validator.
   * @throws AppError INVALID_INPUT when the schema is not a valid JSON Schema.
   */
  validator(schema: Record<string, unknown>): ValidateFunction {
    const text = JSON.stringify(schema);
    if (text.length > MAX_SCHEMA_BYTES) {
      throw new AppError(
        'INVALID_INPUT',
        `output_schema is ${text.length} bytes; the limit is ${MAX_SCHEMA_BYTES}`,
      );
    }
    const key = createHash('sha1').update(text).digest('hex');
    let fn = this.compiled.get(key);
    if (!fn) {
      try {
        fn = this.ajv.compile(schema);
      } catch (error) {
        throw new AppError(
          'INVALID_INPUT',
          `output_schema is not a valid JSON Schema: ${(error as Error).message}`,
          {
            hint: 'Give a JSON Schema object, e.g. {"type": "object", "required": ["summary"], "properties": {"summary": {"type": "string"}}}',
          },
        );
      }
      if (this.compiled.size > 500) this.compiled.clear();
      this.compiled.set(key, fn);
    }
    return fn;
  }

  /** Every way `value` violates `schema`, as readable lines (empty when valid). */
  violations(schema: Record<string, unknown>, value: unknown): string[] {
    const validate = this.validator(schema);
    if (validate(value)) return [];
    return (validate.errors ?? []).map((e) =>
      `result${e.instancePath || ''} ${e.message ?? 'is invalid'}`.trim(),
    );
  }
}
