/**
 * A tool's rarely used knobs travel in one `options` object, advertised as a short description
 * (cheap for the model's context) and checked here against the full schema.
 */
import type { z } from 'zod';
import { AppError } from '../../core/errors.js';

/** @throws AppError INVALID_INPUT naming each bad option (options.<field>: what is wrong). */
export function parseOptions<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const parsed = schema.safeParse(value ?? {});
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => {
    const where = ['options', ...i.path.map(String)].join('.');
    return i.code === 'unrecognized_keys'
      ? `${where}: unknown option(s) ${i.keys.join(', ')}`
      : `${where}: ${i.message}`;
  });
  throw new AppError('INVALID_INPUT', `Invalid options: ${problems.join('; ')}`, {
    hint: 'The tool description lists the options; leave out any you do not need',
  });
}
