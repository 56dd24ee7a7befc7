/** validate_code's engine: TypeScript types and syntax, JavaScript syntax, JSON, Python; never throws. */
import { describe, expect, it } from 'vitest';
import { validateCode } from '../../src/code/codeValidation.js';
import { createExecBoundary } from '../../src/safety/exec.js';

const boundary = createExecBoundary({ env: { PATH: process.env.PATH ?? '' } });

describe('code validation', () => {
  it('reports TypeScript type errors with line and column, and passes good code', async () => {
    const bad = await validateCode(
      'const n: number = "x";\nexport function f(a: string) {\n  return a.nope;\n}\n',
      'typescript',
    );
    expect(bad.valid).toBe(false);
    expect(bad.issues.map((i) => [i.line, i.column, i.code])).toEqual([
      [1, 7, 'TS2322'],
      [3, 12, 'TS2339'],
    ]);
    const good = await validateCode(
      "import { x } from './elsewhere';\nexport const twice = (n: number): number => n * 2 + x;\n",
      'typescript',
    );
    expect(good).toMatchObject({ valid: true, issues: [] });
  });

  it('checks JavaScript syntax only', async () => {
    expect((await validateCode('const a = 1;\nlet b = a.whatever.more;\n', 'javascript')).valid).toBe(true);
    const r = await validateCode('function (\n', 'javascript');
    expect(r.valid).toBe(false);
    expect(r.issues[0]).toMatchObject({ line: 1, severity: 'error' });
  });

  it('locates JSON errors', async () => {
    const r = await validateCode('{\n  "a": 1,\n  "b": }\n', 'json');
    expect(r.valid).toBe(false);
    expect(r.issues[0]).toMatchObject({ line: 3, code: 'JSON' });
    expect((await validateCode('{"ok": true}', 'json')).valid).toBe(true);
  });

  it('compiles Python without running it', async () => {
    const r = await validateCode(
      'import os\nos.remove("/tmp/never-run")\ndef f(:\n  pass\n',
      'python',
      undefined,
      boundary,
    );
    expect(r.valid).toBe(false);
    expect(r.issues[0]).toMatchObject({ line: 3, code: 'SyntaxError' });
    expect((await validateCode('print("hi")\n', 'python', undefined, boundary)).valid).toBe(true);
  });

  it('never throws, whatever the input', async () => {
    const junk = ['\u0000\u0001', '}'.repeat(10_000), '<'.repeat(5000), '"'.repeat(3), '/*', '`${', '\uD800'];
    for (const code of junk)
      for (const lang of ['typescript', 'javascript', 'json', 'python'] as const) {
        const r = await validateCode(code, lang, undefined, boundary);
        expect(typeof r.valid).toBe('boolean');
      }
  });
});
