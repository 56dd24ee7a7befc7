/**
 * Quality gates a task must pass to complete: its result validates against the task's JSON
 * Schema, and its command gates (allowlisted programs such as `npm test`) exit 0. The agent's own
 * claim never completes a task.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Ajv, ValidateFunction } from 'ajv';
import { AppError } from '../core/errors.js';
import type { CommandGate } from './model.js';

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

/** Package managers may only run the project's own scripts: `exec`/`dlx` would fetch and run anything. */
const PACKAGE_MANAGER_SUBCOMMANDS: Record<string, readonly string[]> = {
  npm: ['test', 't', 'run', 'run-script'],
  pnpm: ['test', 't', 'run'],
  yarn: ['test', 'run'],
};

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

/**
 * Checks that a command gate may run here.
 * @throws AppError INVALID_INPUT naming the allowlist.
 */
export function checkCommandGate(gate: CommandGate, allowlist: readonly string[]): void {
  if (!/^[A-Za-z0-9._-]+$/.test(gate.command)) {
    throw new AppError('INVALID_INPUT', `Gate command "${gate.command}" must be a bare program name`, {
      hint: `Use one of: ${allowlist.join(', ')} (no paths, no shell syntax; arguments go in args)`,
    });
  }
  if (!allowlist.includes(gate.command)) {
    throw new AppError('INVALID_INPUT', `Gate command "${gate.command}" is not allowed`, {
      hint: `Allowed: ${allowlist.join(', ')}. Set TASK_ORCHESTRATOR_GATE_COMMANDS to change the list`,
    });
  }
  const subcommands = PACKAGE_MANAGER_SUBCOMMANDS[gate.command];
  if (subcommands && !subcommands.includes(gate.args[0] ?? '')) {
    throw new AppError('INVALID_INPUT', `"${gate.command} ${gate.args[0] ?? ''}" is not allowed as a gate`, {
      hint: `${gate.command} gates run project scripts only: ${subcommands.map((s) => `${gate.command} ${s}`).join(', ')}`,
    });
  }
}

export interface GateRun {
  gate: string;
  ok: boolean;
  exit_code: number | null;
  duration_ms: number;
  /** The last lines of output, for the violation message. */
  output_tail: string;
}

/** Runs a command gate without a shell, with its timeout. Never throws. */
export function runCommandGate(gate: CommandGate, cwd: string, signal?: AbortSignal): Promise<GateRun> {
  const label = [gate.command, ...gate.args].join(' ');
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(
      gate.command,
      gate.args,
      {
        cwd,
        shell: false,
        timeout: gate.timeout_s * 1000,
        maxBuffer: 4 * 1024 * 1024,
        windowsHide: true,
        signal,
      },
      (error, stdout, stderr) => {
        const output = `${stdout}${stderr}`.trim();
        const tail = output.split('\n').slice(-15).join('\n').slice(-2000);
        const err = error as (NodeJS.ErrnoException & { killed?: boolean; code?: number | string }) | null;
        let exitCode: number | null = 0;
        let note = '';
        if (err) {
          exitCode = typeof err.code === 'number' ? err.code : null;
          if (err.code === 'ENOENT') note = `${gate.command} was not found on PATH`;
          else if (err.killed || err.name === 'AbortError') note = `timed out after ${gate.timeout_s} s`;
        }
        resolve({
          gate: label,
          ok: !err,
          exit_code: exitCode,
          duration_ms: Date.now() - started,
          output_tail: note ? `${note}${tail ? `\n${tail}` : ''}` : tail,
        });
      },
    );
  });
}
