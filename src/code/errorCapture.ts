/**
 * Structured errors from a command's output: stack traces and compiler diagnostics of Node,
 * Python, Go, Rust and the TypeScript compiler, each with file, line, column when known, the
 * frames, and a first fix suggestion from the error's kind.
 */

export interface CapturedError {
  language: 'node' | 'python' | 'go' | 'rust' | 'typescript';
  type: string;
  message: string;
  file?: string;
  line?: number;
  column?: number;
  frames: Array<{ file: string; line: number; column?: number; function?: string }>;
  suggestion: string;
}

const MAX_ERRORS = 50;

function suggestion(language: CapturedError['language'], type: string, message: string): string {
  const m = `${type} ${message}`;
  if (
    /TS2307|Cannot find module|ModuleNotFoundError|No module named|unresolved import|cannot find package/i.test(
      m,
    )
  )
    return 'A module is missing: install the dependency or fix the import path.';
  if (/TS2304|ReferenceError|NameError|undefined: |cannot find value|E0425/i.test(m))
    return 'A name is used before it is defined or imported: check the spelling, scope and imports.';
  if (/Cannot read propert|undefined is not|null pointer|nil pointer|NoneType/i.test(m))
    return 'Something is null or undefined where a value is needed: check where it is set and guard for it.';
  if (/TS2322|TS2345|TypeError|mismatched types|E0308|cannot use .* as/i.test(m))
    return 'A value has the wrong type here: check what the called function expects and what is passed.';
  if (/TS2339|AttributeError|has no attribute|Property .* does not exist|no field|E0609/i.test(m))
    return 'The object has no such property or method: check the type, or guard for undefined.';
  if (/SyntaxError|IndentationError|TS1\d{3}|expected .* found|syntax error/i.test(m))
    return 'The code does not parse: look at the reported line and the one before it (brackets, quotes, indentation).';
  if (/index out of range|IndexError|out of bounds|RangeError/i.test(m))
    return 'An index or size is out of range: check the bounds and empty inputs.';
  if (/ENOENT|FileNotFoundError|no such file/i.test(m))
    return 'A file or folder does not exist: check the path and working directory.';
  if (/EACCES|PermissionError|permission denied/i.test(m))
    return 'Permission denied: check file modes and the user running it.';
  if (/AssertionError|assert/i.test(m))
    return 'An assertion failed: compare the expected and actual values in the message.';
  if (language === 'rust' && /borrow/i.test(m))
    return 'A borrow-checker error: shorten the borrow, clone, or restructure ownership.';
  return 'Read the message and the first frame in your code; fix the cause there rather than where it surfaced.';
}

export function captureErrors(output: string): CapturedError[] {
  const lines = output.split(/\r?\n/);
  const errors: CapturedError[] = [];
  const push = (e: Omit<CapturedError, 'suggestion'>) => {
    if (errors.length < MAX_ERRORS)
      errors.push({ ...e, suggestion: suggestion(e.language, e.type, e.message) });
  };

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    let m: RegExpExecArray | null;

    // TypeScript: file(3,7): error TS2322: msg   or   file:3:7 - error TS2322: msg
    if (
      (m = /^(.+?)\((\d+),(\d+)\): error (TS\d+): (.*)$/.exec(line)) ||
      (m = /^(.+?):(\d+):(\d+) - error (TS\d+): (.*)$/.exec(line))
    ) {
      push({
        language: 'typescript',
        type: m[4]!,
        message: m[5]!,
        file: m[1]!,
        line: Number(m[2]),
        column: Number(m[3]),
        frames: [],
      });
      continue;
    }
    // Python traceback: collect frames until the exception line.
    if (/^Traceback \(most recent call last\):/.test(line)) {
      const frames: CapturedError['frames'] = [];
      let j = i + 1;
      for (; j < lines.length; j++) {
        const f = /^\s+File "(.+?)", line (\d+)(?:, in (.+))?/.exec(lines[j]!);
        if (f) frames.push({ file: f[1]!, line: Number(f[2]), ...(f[3] ? { function: f[3] } : {}) });
        else if (/^\S/.test(lines[j]!)) break;
      }
      const last = lines[j] ?? '';
      const ex = /^([\w.]+(?:Error|Exception|Exit|Interrupt|Warning)?):?\s?(.*)$/.exec(last);
      const top = frames.at(-1);
      push({
        language: 'python',
        type: ex?.[1] ?? 'Exception',
        message: ex?.[2] ?? last,
        ...(top ? { file: top.file, line: top.line } : {}),
        frames,
      });
      i = j;
      continue;
    }
    // Python syntax errors outside a traceback: File "x.py", line 3 ... SyntaxError: msg
    if ((m = /^\s*File "(.+?)", line (\d+)$/.exec(line))) {
      const end = lines
        .slice(i + 1, i + 5)
        .findIndex((l) => /^(SyntaxError|IndentationError|TabError): /.test(l));
      if (end >= 0) {
        const ex = /^(\w+): (.*)$/.exec(lines[i + 1 + end]!)!;
        push({
          language: 'python',
          type: ex[1]!,
          message: ex[2]!,
          file: m[1]!,
          line: Number(m[2]),
          frames: [],
        });
        i += end + 1;
        continue;
      }
    }
    // Rust compiler: error[E0425]: msg  /  --> src/main.rs:2:5
    if ((m = /^error(?:\[(E\d+)\])?: (.*)$/.exec(line))) {
      const loc = lines
        .slice(i + 1, i + 4)
        .map((l) => /^\s*--> (.+?):(\d+):(\d+)/.exec(l))
        .find(Boolean);
      if (loc) {
        push({
          language: 'rust',
          type: m[1] ?? 'error',
          message: m[2]!,
          file: loc[1]!,
          line: Number(loc[2]),
          column: Number(loc[3]),
          frames: [],
        });
        continue;
      }
    }
    // Rust panic: thread 'main' panicked at src/main.rs:2:5:\nmsg   (or older: panicked at 'msg', src/main.rs:2:5)
    if ((m = /^thread '.*' panicked at (?:'(.*)', )?(.+?):(\d+):(\d+):?$/.exec(line))) {
      push({
        language: 'rust',
        type: 'panic',
        message: m[1] ?? lines[i + 1] ?? '',
        file: m[2]!,
        line: Number(m[3]),
        column: Number(m[4]),
        frames: [],
      });
      continue;
    }
    // Go panic: panic: msg ... \t/path/main.go:12 +0x1d
    if ((m = /^panic: (.*)$/.exec(line))) {
      const frames: CapturedError['frames'] = [];
      for (let j = i + 1; j < Math.min(lines.length, i + 60); j++) {
        const f = /^\t(.+?\.go):(\d+)/.exec(lines[j]!);
        const fn = /^([\w./*()-]+)\(.*\)$/.exec(lines[j - 1] ?? '');
        if (f) frames.push({ file: f[1]!, line: Number(f[2]), ...(fn ? { function: fn[1] } : {}) });
      }
      const top = frames.find((f) => !f.file.includes('/runtime/')) ?? frames[0];
      push({
        language: 'go',
        type: 'panic',
        message: m[1]!,
        ...(top ? { file: top.file, line: top.line } : {}),
        frames,
      });
      continue;
    }
    // Go compiler/vet: ./main.go:12:5: msg
    if ((m = /^(\.{0,2}\/?[\w./-]+\.go):(\d+):(\d+): (.*)$/.exec(line))) {
      push({
        language: 'go',
        type: 'compile',
        message: m[4]!,
        file: m[1]!,
        line: Number(m[2]),
        column: Number(m[3]),
        frames: [],
      });
      continue;
    }
    // Node: "TypeError: msg" followed by "    at fn (file:line:col)" frames.
    if (
      (m =
        /^(?:Uncaught )?([A-Z]\w*(?:Error|Exception)|AssertionError \[\w+\]|Error)(?: \[\w+\])?: (.*)$/.exec(
          line,
        ))
    ) {
      const frames: CapturedError['frames'] = [];
      let j = i + 1;
      for (; j < lines.length; j++) {
        const f = /^\s+at (?:(.+?) \()?(?:file:\/\/)?(.+?):(\d+):(\d+)\)?$/.exec(lines[j]!);
        if (!f) break;
        frames.push({
          file: f[2]!,
          line: Number(f[3]),
          column: Number(f[4]),
          ...(f[1] ? { function: f[1] } : {}),
        });
      }
      if (frames.length === 0) continue;
      const top =
        frames.find((f) => !f.file.startsWith('node:') && !f.file.includes('node_modules')) ?? frames[0]!;
      push({
        language: 'node',
        type: m[1]!,
        message: m[2]!,
        file: top.file,
        line: top.line,
        ...(top.column ? { column: top.column } : {}),
        frames,
      });
      i = j - 1;
    }
  }
  return errors;
}
