/**
 * Code validation without running anything: TypeScript and JavaScript through the TypeScript
 * compiler API (syntax, and for TypeScript also type diagnostics; imports are not resolved, so
 * "cannot find module" is not reported), JSON by parsing, Python with `python3 -m py_compile` when
 * python3 is installed (it compiles, it does not run the code). Issues carry line and column.
 * Never throws for any input: problems of the validator itself come back as an issue.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type * as TS from 'typescript';
import type { ExecBoundary } from '../safety/exec.js';

export type CodeLanguage = 'typescript' | 'javascript' | 'json' | 'python';

export interface CodeIssue {
  line: number;
  column: number;
  severity: 'error' | 'warning';
  code: string;
  message: string;
}

export interface CodeValidation {
  language: CodeLanguage;
  valid: boolean;
  checked: string;
  issues: CodeIssue[];
}

export const MAX_CODE_BYTES = 1_048_576;
const MAX_ISSUES = 100;

const require = createRequire(import.meta.url);
let ts: typeof TS | undefined;
const libCache = new Map<string, TS.SourceFile>();

function typescript(): typeof TS {
  ts ??= require('typescript') as typeof TS;
  return ts;
}

export function languageOf(file: string): CodeLanguage | undefined {
  const ext = path.extname(file).toLowerCase();
  if (['.ts', '.tsx', '.mts', '.cts'].includes(ext)) return 'typescript';
  if (['.js', '.jsx', '.mjs', '.cjs'].includes(ext)) return 'javascript';
  if (ext === '.json') return 'json';
  if (ext === '.py') return 'python';
  return undefined;
}

function validateTs(code: string, language: 'typescript' | 'javascript', fileName?: string): CodeValidation {
  const t = typescript();
  const name = fileName ? path.basename(fileName) : language === 'typescript' ? 'input.ts' : 'input.js';
  const options: TS.CompilerOptions = {
    noEmit: true,
    strict: true,
    target: t.ScriptTarget.ES2022,
    module: t.ModuleKind.ESNext,
    jsx: t.JsxEmit.Preserve,
    allowJs: true,
    checkJs: false,
    skipLibCheck: true,
    noResolve: true,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
    types: [],
  };
  const libDir = path.dirname(t.getDefaultLibFilePath(options));
  const host = t.createCompilerHost(options, true);
  const source = t.createSourceFile(name, code, t.ScriptTarget.ES2022, true);
  host.getSourceFile = (file, target) => {
    if (file === name) return source;
    const cached = libCache.get(file);
    if (cached) return cached;
    const full = path.isAbsolute(file) ? file : path.join(libDir, file);
    const text = t.sys.readFile(full);
    if (text === undefined) return undefined;
    const sf = t.createSourceFile(file, text, target, true);
    libCache.set(file, sf);
    return sf;
  };
  host.fileExists = (file) =>
    file === name || t.sys.fileExists(path.isAbsolute(file) ? file : path.join(libDir, file));
  host.readFile = (file) => (file === name ? code : t.sys.readFile(file));
  const program = t.createProgram([name], options, host);
  const syntax = program.getSyntacticDiagnostics(source);
  const semantic =
    language === 'typescript' && syntax.length === 0
      ? program.getSemanticDiagnostics(source).filter((d) => d.code !== 2307 && d.code !== 2792)
      : [];
  const issues = [...syntax, ...semantic].slice(0, MAX_ISSUES).map((d): CodeIssue => {
    const pos =
      d.file && d.start !== undefined
        ? d.file.getLineAndCharacterOfPosition(d.start)
        : { line: 0, character: 0 };
    return {
      line: pos.line + 1,
      column: pos.character + 1,
      severity: d.category === t.DiagnosticCategory.Error ? 'error' : 'warning',
      code: `TS${d.code}`,
      message: t.flattenDiagnosticMessageText(d.messageText, '\n'),
    };
  });
  return {
    language,
    valid: !issues.some((i) => i.severity === 'error'),
    checked: language === 'typescript' ? 'syntax and types (imports not resolved)' : 'syntax',
    issues,
  };
}

function validateJson(code: string): CodeValidation {
  try {
    JSON.parse(code);
    return { language: 'json', valid: true, checked: 'syntax', issues: [] };
  } catch (error) {
    const message = (error as Error).message;
    const m = /position (\d+)/.exec(message);
    const lc = /line (\d+) column (\d+)/.exec(message);
    let line = 1;
    let column = 1;
    // Node 20's JSON.parse messages rarely carry a position; the TypeScript JSON parser finds it.
    const t = typescript();
    const located = t.parseConfigFileTextToJson('input.json', code).error;
    if (located?.file && located.start !== undefined) {
      const pos = located.file.getLineAndCharacterOfPosition(located.start);
      line = pos.line + 1;
      column = pos.character + 1;
    } else if (lc) {
      line = Number(lc[1]);
      column = Number(lc[2]);
    } else if (m) {
      const before = code.slice(0, Number(m[1]));
      line = before.split('\n').length;
      column = before.length - before.lastIndexOf('\n');
    } else if (/end of JSON input/.test(message)) {
      line = code.split('\n').length;
      column = (code.split('\n').at(-1)?.length ?? 0) + 1;
    }
    return {
      language: 'json',
      valid: false,
      checked: 'syntax',
      issues: [{ line, column, severity: 'error', code: 'JSON', message }],
    };
  }
}

/** Runs a checker program through the exec boundary. */
async function run(
  boundary: ExecBoundary,
  file: string,
  args: string[],
  cwd: string,
): Promise<{ code: number | null; stderr: string; missing: boolean }> {
  const r = await boundary.run({ file, args, cwd, timeoutMs: 20_000, maxBytes: 1_048_576 });
  return {
    code: r.spawn_error ? 1 : r.timed_out ? 1 : r.exit_code,
    stderr: r.stderr,
    missing: r.spawn_error?.includes('not found') === true,
  };
}

async function validatePython(code: string, boundary: ExecBoundary): Promise<CodeValidation> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'to-py-'));
  try {
    const file = path.join(dir, 'input.py');
    await writeFile(file, code);
    // -I: isolated (no current folder on sys.path, no PYTHON* variables), so nothing of the project loads.
    const r = await run(boundary, 'python3', ['-I', '-m', 'py_compile', file], dir);
    if (r.missing)
      return notChecked(
        'python',
        'warning',
        'UNAVAILABLE',
        'python3 is not installed, so Python cannot be checked here',
      );
    if (r.code === 0) return { language: 'python', valid: true, checked: 'syntax (py_compile)', issues: [] };
    const loc = /line (\d+)/.exec(r.stderr);
    const caret = r.stderr.split('\n').find((l) => /^\s*\^+\s*$/.test(l));
    const kind = /(\w*Error): (.*)/.exec(r.stderr);
    return {
      language: 'python',
      valid: false,
      checked: 'syntax (py_compile)',
      issues: [
        {
          line: loc ? Number(loc[1]) : 1,
          column: caret ? caret.indexOf('^') - 3 : 1,
          severity: 'error',
          code: kind?.[1] ?? 'SyntaxError',
          message: (kind?.[2] ?? r.stderr.trim().split('\n').at(-1) ?? 'invalid syntax').trim(),
        },
      ],
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * @param boundary runs python3 for Python (the only language checked by another program); without
 *   it Python is reported as not checked.
 */
/** A result for code that was not checked, with the one issue saying why. */
function notChecked(
  language: CodeLanguage,
  severity: CodeIssue['severity'],
  code: string,
  message: string,
): CodeValidation {
  return {
    language,
    valid: false,
    checked: 'not checked',
    issues: [{ line: 1, column: 1, severity, code, message }],
  };
}

export async function validateCode(
  code: string,
  language: CodeLanguage,
  fileName?: string,
  boundary?: ExecBoundary,
): Promise<CodeValidation> {
  try {
    if (Buffer.byteLength(code) > MAX_CODE_BYTES)
      return notChecked(language, 'error', 'TOO_LARGE', `Code over ${MAX_CODE_BYTES} bytes is not checked`);
    if (language === 'json') return validateJson(code);
    if (language === 'python') {
      if (!boundary)
        return notChecked(language, 'warning', 'UNAVAILABLE', 'Python is checked only inside the server');
      return await validatePython(code, boundary);
    }
    return validateTs(code, language, fileName);
  } catch (error) {
    return {
      language,
      valid: false,
      checked: 'failed',
      issues: [
        {
          line: 1,
          column: 1,
          severity: 'error',
          code: 'VALIDATOR',
          message: `The validator failed: ${(error as Error).message}`,
        },
      ],
    };
  }
}
