/**
 * The file-system boundary: every path a tool accepts, and every file the server reads or writes
 * for a client, is resolved to where it really is (symbolic links followed, dangling ones
 * included) and must stay inside the allowed roots. Writes go to the resolved path and never
 * follow a link in its last component, so a link swapped in after the check cannot redirect them.
 */
import { constants, lstatSync, promises as fs, readlinkSync, realpathSync } from 'node:fs';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { AppError } from '../core/errors.js';

/** Whether `candidate` (a resolved absolute path) is `root` or below it. */
export function isInside(root: string, candidate: string): boolean {
  return candidate === root || candidate.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
}

async function realRoots(roots: readonly string[]): Promise<string[]> {
  return Promise.all(roots.map((r) => fs.realpath(r).catch(() => path.resolve(r))));
}

const MAX_LINK_HOPS = 40;

/**
 * Where `absolute` really points, following links even when the final target does not exist.
 * Returns undefined when its folder does not exist.
 */
async function resolveReal(absolute: string, hops = 0): Promise<string | undefined> {
  try {
    return await fs.realpath(absolute);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const parent = await fs.realpath(path.dirname(absolute)).catch(() => undefined);
  if (parent === undefined) return undefined;
  const here = path.join(parent, path.basename(absolute));
  const stat = await fs.lstat(here).catch(() => undefined);
  if (stat?.isSymbolicLink()) {
    // A dangling link: what matters is where a write through it would land.
    if (hops >= MAX_LINK_HOPS) throw new AppError('INVALID_INPUT', `Too many symbolic links at ${absolute}`);
    const target = await fs.readlink(here);
    return resolveReal(path.resolve(parent, target), hops + 1);
  }
  return here;
}

export interface ResolveOptions {
  /** false allows a file that does not exist yet (its folder must). Default true. */
  mustExist?: boolean;
  /** Resolved paths below these are refused even though a root contains them (e.g. the state folder). */
  exclude?: readonly string[];
  /** Names what the path is for in errors. Default "Path". */
  what?: string;
}

/**
 * Resolves `input` (relative to the first root) to a real path inside one of `roots`.
 * @throws AppError INVALID_INPUT for paths outside the roots (or inside an excluded folder),
 *   NOT_FOUND for missing files or folders.
 */
export async function resolveInside(
  roots: readonly string[],
  input: string,
  options: ResolveOptions = {},
): Promise<string> {
  const mustExist = options.mustExist ?? true;
  const what = options.what ?? 'Path';
  if (input.includes('\0')) throw new AppError('INVALID_INPUT', `${what} contains a NUL byte`);
  const base = roots[0];
  if (base === undefined) throw new AppError('INTERNAL', 'No allowed roots');
  const allowed = await realRoots(roots);
  const absolute = path.resolve(base, input);
  const real = await resolveReal(absolute);
  if (real === undefined)
    throw new AppError(
      'NOT_FOUND',
      mustExist ? `No file at ${input}` : `Folder ${path.dirname(input)} does not exist`,
      { hint: `Paths are relative to ${base}` },
    );
  if (!allowed.some((root) => isInside(root, real)))
    throw new AppError('INVALID_INPUT', `${what} ${input} is outside the project`, {
      hint: `Use a path inside ${roots.join(' or ')}; links are followed to where they point`,
    });
  const excluded = await realRoots(options.exclude ?? []);
  if (excluded.some((root) => isInside(root, real)))
    throw new AppError('INVALID_INPUT', `${what} ${input} is inside the server's state folder`, {
      hint: 'Files the server keeps for itself cannot be used here; use a project file',
    });
  if (mustExist && !(await fs.stat(real).catch(() => undefined)))
    throw new AppError('NOT_FOUND', `No file at ${input}`, { hint: `Paths are relative to ${base}` });
  return real;
}

/**
 * Makes the folder of `input` (a file path) inside one of `roots`: the deepest existing ancestor
 * must resolve inside them (links followed), and only the missing parts below it are created, one
 * at a time, so a link in the path can never make it create folders elsewhere.
 * @throws AppError INVALID_INPUT for a path outside the roots (or inside an excluded folder).
 */
export async function ensureFolderInside(
  roots: readonly string[],
  input: string,
  options: Omit<ResolveOptions, 'mustExist'> = {},
): Promise<void> {
  const base = roots[0];
  if (base === undefined) throw new AppError('INTERNAL', 'No allowed roots');
  const folder = path.dirname(path.resolve(base, input));
  const missing: string[] = [];
  let existing = folder;
  while (!(await fs.lstat(existing).catch(() => undefined))) {
    missing.unshift(path.basename(existing));
    const up = path.dirname(existing);
    if (up === existing) break;
    existing = up;
  }
  let real = await resolveInside(roots, existing, { ...options, mustExist: true });
  for (const part of missing) {
    real = path.join(real, part);
    await fs.mkdir(real).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
    // Made meanwhile by someone else as a link: resolved again, and refused if it leaves the roots.
    real = await resolveInside(roots, real, { ...options, mustExist: true });
  }
}

/**
 * Writes `data` to a file that must resolve inside `roots`, at its resolved path, refusing to
 * follow a link there (O_NOFOLLOW).
 * @throws AppError as resolveInside; INVALID_INPUT when a link appeared at the path meanwhile.
 */
export async function writeFileInside(
  roots: readonly string[],
  input: string,
  data: string,
  options: Omit<ResolveOptions, 'mustExist'> = {},
): Promise<string> {
  const real = await resolveInside(roots, input, { ...options, mustExist: false });
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(
      real,
      constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW,
      0o644,
    );
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOOP')
      throw new AppError('INVALID_INPUT', `${input} became a symbolic link; not written`);
    throw error;
  }
  try {
    await handle.writeFile(data);
  } finally {
    await handle.close();
  }
  return real;
}

/**
 * Where `absolute` really lands, synchronously (for the command classifier): links followed through
 * every existing folder and a dangling last link, the parts that do not exist yet kept as written.
 * Never throws; a loop of links stops at what it reached.
 */
export function realPathSync(absolute: string): string {
  const missing: string[] = [];
  let current = path.resolve(absolute);
  for (let hops = 0; hops < MAX_LINK_HOPS; hops++) {
    try {
      return path.join(realpathSync(current), ...missing.reverse());
    } catch {
      // Not there (or not readable): a link at this spot still decides where a write goes.
    }
    let link: string | undefined;
    try {
      if (lstatSync(current).isSymbolicLink()) link = readlinkSync(current);
    } catch {
      link = undefined;
    }
    if (link !== undefined) {
      current = path.resolve(path.dirname(current), link);
      continue;
    }
    const parent = path.dirname(current);
    if (parent === current) break;
    missing.push(path.basename(current));
    current = parent;
  }
  return path.join(current, ...missing.reverse());
}

/**
 * realPathSync with a memory of the folders it resolved: one `lstat` per further file in a known
 * folder, no exception for a file that does not exist. For the command classifier, where one
 * command may name thousands of files in a few folders.
 */
export class RealPathCache {
  private readonly folders = new Map<string, string>();

  /** Where `absolute` really lands, and what is there now (undefined: nothing yet). */
  resolve(absolute: string, hops = 0): { real: string; stat: Stats | undefined } {
    const normal = path.resolve(absolute);
    const folder = path.dirname(normal);
    if (folder === normal) return { real: normal, stat: undefined };
    let realFolder = this.folders.get(folder);
    if (realFolder === undefined) {
      realFolder = realPathSync(folder);
      this.folders.set(folder, realFolder);
    }
    const here = path.join(realFolder, path.basename(normal));
    let stat: Stats | undefined;
    try {
      stat = lstatSync(here, { throwIfNoEntry: false });
    } catch {
      // A name too long, a file where a folder should be, no permission: nothing there to follow.
      stat = undefined;
    }
    if (stat?.isSymbolicLink() && hops < MAX_LINK_HOPS) {
      let target: string;
      try {
        target = readlinkSync(here);
      } catch {
        return { real: here, stat };
      }
      return this.resolve(path.resolve(realFolder, target), hops + 1);
    }
    return { real: here, stat };
  }
}
