/**
 * The file-system security boundary: paths that tools accept are resolved (symlinks included) and
 * must stay inside the allowed roots (the project folder and the state folder).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { AppError } from './errors.js';

function inside(root: string, candidate: string): boolean {
  return candidate === root || candidate.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
}

async function realRoots(roots: readonly string[]): Promise<string[]> {
  return Promise.all(roots.map((r) => fs.realpath(r).catch(() => path.resolve(r))));
}

/**
 * Resolves `input` (relative to the first root) to a real path inside one of `roots`.
 * `mustExist: false` allows a file that does not exist yet (its folder must).
 * @throws AppError INVALID_INPUT for paths outside the roots, NOT_FOUND for missing files.
 */
export async function resolveInside(
  roots: readonly string[],
  input: string,
  options: { mustExist?: boolean } = {},
): Promise<string> {
  const mustExist = options.mustExist ?? true;
  if (input.includes('\0')) throw new AppError('INVALID_INPUT', 'Path contains a NUL byte');
  const base = roots[0];
  if (base === undefined) throw new AppError('INTERNAL', 'No allowed roots');
  const allowed = await realRoots(roots);
  const absolute = path.resolve(base, input);
  let real: string;
  try {
    real = await fs.realpath(absolute);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    if (mustExist) {
      throw new AppError('NOT_FOUND', `No file at ${input}`, { hint: `Paths are relative to ${base}` });
    }
    // A new file: its folder must exist and be inside.
    const parent = await fs.realpath(path.dirname(absolute)).catch(() => {
      throw new AppError('NOT_FOUND', `Folder ${path.dirname(input)} does not exist`, {
        hint: `Paths are relative to ${base}`,
      });
    });
    real = path.join(parent, path.basename(absolute));
  }
  if (!allowed.some((root) => inside(root, real))) {
    throw new AppError('INVALID_INPUT', `Path ${input} is outside the project`, {
      hint: `Use a path inside ${roots.join(' or ')}`,
    });
  }
  return real;
}
