/**
 * What a glob in a command would match now, so that `/bin/r?` is known to run rm and
 * `.task-orch*` to name the state folder. Bounded: a few folders read, a few hundred names, short
 * patterns only; past the bounds the answer is "not known", and the classifier asks.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';

const MAX_MATCHES = 200;
const MAX_FOLDERS = 40;
const MAX_SEGMENT = 100;

const hasGlob = (segment: string) => /[*?[]/.test(segment);

/** One bracket expression at `pattern[i]` ("[a-z]", "[!x]"): whether it admits `c`, and where it ends. */
function bracket(pattern: string, i: number, c: string): { ok: boolean; next: number } | undefined {
  let j = i + 1;
  const negate = pattern[j] === '!' || pattern[j] === '^';
  if (negate) j++;
  let ok = false;
  let first = true;
  for (; j < pattern.length && (first || pattern[j] !== ']'); j++) {
    first = false;
    const lo = pattern[j]!;
    if (pattern[j + 1] === '-' && pattern[j + 2] !== undefined && pattern[j + 2] !== ']') {
      if (c >= lo && c <= pattern[j + 2]!) ok = true;
      j += 2;
    } else if (c === lo) ok = true;
  }
  if (j >= pattern.length) return undefined;
  return { ok: ok !== negate, next: j + 1 };
}

/**
 * Whether a file name matches a glob segment (* ? [...]). The usual two-pointer matching: on a
 * mismatch only the last star moves, so the work is at most pattern length x name length.
 */
export function globMatch(pattern: string, name: string): boolean {
  let p = 0;
  let n = 0;
  let star = -1;
  let mark = 0;
  while (n < name.length) {
    const c = name[n]!;
    const pc = pattern[p];
    if (pc === '*') {
      star = p++;
      mark = n;
      continue;
    }
    if (pc === '[') {
      const b = bracket(pattern, p, c);
      if (b ? b.ok : c === '[') {
        p = b ? b.next : p + 1;
        n++;
        continue;
      }
    } else if (pc !== undefined && (pc === '?' || pc === c)) {
      p++;
      n++;
      continue;
    }
    if (star < 0) return false;
    p = star + 1;
    n = ++mark;
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}

/**
 * The paths `pattern` (absolute, or relative to `cwd`) matches now, as absolute paths; undefined
 * when that is more than can be looked at.
 */
export function expandGlob(pattern: string, cwd: string): string[] | undefined {
  const absolute = path.resolve(cwd, pattern);
  const segments = absolute.split('/').filter(Boolean);
  let bases = ['/'];
  let folders = 0;
  for (const segment of segments) {
    if (!hasGlob(segment)) {
      bases = bases.map((b) => path.join(b, segment));
      continue;
    }
    if (segment.length > MAX_SEGMENT) return undefined;
    const next: string[] = [];
    for (const base of bases) {
      if (++folders > MAX_FOLDERS) return undefined;
      let names: string[];
      try {
        names = readdirSync(base);
      } catch {
        continue;
      }
      for (const name of names) {
        // As Bash: a leading dot is matched only by a pattern that starts with one.
        if (name.startsWith('.') && !segment.startsWith('.')) continue;
        if (globMatch(segment, name)) next.push(path.join(base, name));
        if (next.length > MAX_MATCHES) return undefined;
      }
    }
    bases = next;
    if (bases.length === 0) break;
  }
  return bases;
}
