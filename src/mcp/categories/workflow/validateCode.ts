import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { languageOf, MAX_CODE_BYTES, validateCode as validate } from '../../../code/codeValidation.js';
import type { CodeLanguage } from '../../../code/codeValidation.js';
import { AppError } from '../../../core/errors.js';
import { resolveInside } from '../../../safety/paths.js';
import type { Services } from '../../services.js';
import { defineTool, ok } from '../../tool.js';

const LANGUAGES = ['typescript', 'javascript', 'json', 'python'] as const;

const input = z
  .object({
    code: z.string().max(MAX_CODE_BYTES).optional().describe('The code to check (or pass path)'),
    path: z
      .string()
      .min(1)
      .max(1000)
      .optional()
      .describe('A file inside the project to check (or pass code)'),
    language: z
      .enum(LANGUAGES)
      .optional()
      .describe('typescript, javascript, json or python; needed with code, inferred from a path’s extension'),
  })
  .strict();

const output = z.object({
  language: z.enum(LANGUAGES),
  valid: z.boolean(),
  checked: z.string().describe('What was checked'),
  issues: z.array(
    z.object({
      line: z.number(),
      column: z.number(),
      severity: z.enum(['error', 'warning']),
      code: z.string(),
      message: z.string(),
    }),
  ),
});

export function validateCode(services: Pick<Services, 'config' | 'exec'>) {
  return defineTool({
    name: 'validate_code',
    title: 'Validate code',
    description:
      'Check code without running it: TypeScript (syntax and types, via the TypeScript compiler API; imports not resolved), JavaScript (syntax), JSON, Python (py_compile when python3 is installed). Returns each issue with line, column and code.',
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(args) {
      if ((args.code === undefined) === (args.path === undefined))
        throw new AppError('INVALID_INPUT', 'Pass either code or path', {
          hint: 'code: the text; path: a file in the project',
        });
      let code = args.code;
      let language: CodeLanguage | undefined = args.language;
      if (args.path) {
        const file = await resolveInside([services.config.projectDir], args.path);
        code = await readFile(file, 'utf8');
        language ??= languageOf(file);
      }
      if (!language)
        throw new AppError(
          'INVALID_INPUT',
          'Which language? Pass language (typescript, javascript, json or python)',
          {
            hint: 'It is inferred only from a path with a known extension',
          },
        );
      const r = await validate(code!, language, args.path, services.exec);
      return ok(
        r,
        r.valid && r.issues.length === 0
          ? `Valid ${language} (${r.checked}).`
          : `${r.valid ? 'Valid' : 'Invalid'} ${language} (${r.checked}):\n${r.issues
              .slice(0, 20)
              .map((i) => `${i.line}:${i.column} ${i.severity} ${i.code}: ${i.message}`)
              .join('\n')}`,
      );
    },
  });
}
