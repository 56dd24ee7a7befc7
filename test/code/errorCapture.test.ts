/** Structured errors from real-looking output of Node, Python, Go, Rust and tsc. */
import { describe, expect, it } from 'vitest';
import { captureErrors } from '../../src/code/errorCapture.js';

describe('error capture', () => {
  it('parses a Node stack trace, pointing at the first frame outside node internals', () => {
    const [e] = captureErrors(
      [
        "TypeError: Cannot read properties of undefined (reading 'name')",
        '    at greet (/app/src/user.js:12:18)',
        '    at main (/app/src/index.js:4:3)',
        '    at node:internal/main/run_main_module:28:49',
      ].join('\n'),
    );
    expect(e).toMatchObject({
      language: 'node',
      type: 'TypeError',
      file: '/app/src/user.js',
      line: 12,
      column: 18,
    });
    expect(e!.frames).toHaveLength(3);
    expect(e!.suggestion).toMatch(/null or undefined/);
  });

  it('parses a Python traceback and a syntax error', () => {
    const errors = captureErrors(
      [
        'Traceback (most recent call last):',
        '  File "/app/main.py", line 3, in <module>',
        '    run()',
        '  File "/app/lib.py", line 9, in run',
        '    import yaml',
        "ModuleNotFoundError: No module named 'yaml'",
        '  File "/app/bad.py", line 2',
        '    def f(:',
        '          ^',
        'SyntaxError: invalid syntax',
      ].join('\n'),
    );
    expect(errors[0]).toMatchObject({
      language: 'python',
      type: 'ModuleNotFoundError',
      file: '/app/lib.py',
      line: 9,
    });
    expect(errors[0]!.frames.map((f) => f.function)).toEqual(['<module>', 'run']);
    expect(errors[0]!.suggestion).toMatch(/module is missing/);
    expect(errors[1]).toMatchObject({
      language: 'python',
      type: 'SyntaxError',
      file: '/app/bad.py',
      line: 2,
    });
  });

  it('parses Go panics and compiler errors', () => {
    const errors = captureErrors(
      [
        './main.go:12:5: undefined: fooBar',
        'panic: runtime error: index out of range [5] with length 3',
        '',
        'goroutine 1 [running]:',
        'main.pick(...)',
        '\t/home/u/app/main.go:20 +0x1d',
        'main.main()',
        '\t/home/u/app/main.go:8 +0x25',
      ].join('\n'),
    );
    expect(errors[0]).toMatchObject({
      language: 'go',
      type: 'compile',
      file: './main.go',
      line: 12,
      column: 5,
    });
    expect(errors[1]).toMatchObject({ language: 'go', type: 'panic', file: '/home/u/app/main.go', line: 20 });
    expect(errors[1]!.suggestion).toMatch(/out of range/);
  });

  it('parses Rust compiler errors and panics', () => {
    const errors = captureErrors(
      [
        'error[E0425]: cannot find value `x` in this scope',
        ' --> src/main.rs:2:20',
        '  |',
        "thread 'main' panicked at src/main.rs:5:9:",
        'attempt to divide by zero',
      ].join('\n'),
    );
    expect(errors[0]).toMatchObject({
      language: 'rust',
      type: 'E0425',
      file: 'src/main.rs',
      line: 2,
      column: 20,
    });
    expect(errors[1]).toMatchObject({
      language: 'rust',
      type: 'panic',
      message: 'attempt to divide by zero',
      line: 5,
    });
  });

  it('parses both tsc output styles', () => {
    const errors = captureErrors(
      [
        "src/a.ts(3,7): error TS2322: Type 'string' is not assignable to type 'number'.",
        "src/b.ts:10:1 - error TS2304: Cannot find name 'foo'.",
      ].join('\n'),
    );
    expect(errors.map((e) => [e.file, e.line, e.column, e.type])).toEqual([
      ['src/a.ts', 3, 7, 'TS2322'],
      ['src/b.ts', 10, 1, 'TS2304'],
    ]);
  });

  it('finds nothing in clean output', () => {
    expect(captureErrors('all 12 tests passed\nDone in 1.2s')).toEqual([]);
  });
});
