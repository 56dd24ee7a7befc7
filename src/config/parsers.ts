/**
 * Parsers for environment variables. Each takes the variable's name (for the message) and
 * returns a function from the raw string (or undefined) to the typed value with its default; a
 * bad value throws ConfigIssue naming the variable. An unset or blank variable always means "the
 * default". Plain functions, no schema library: the config is read by every Claude Code hook
 * call, where start-up time counts (zod alone takes ~110 ms to load here).
 */

export type Raw = string | undefined;
/** A parser for one variable: its name goes into every message. */
export type Parser<T> = (name: string) => (raw: Raw) => T;

/** A variable's value is refused; the message names the variable and what it must be. */
export class ConfigIssue extends Error {}

const blank = (v: Raw): v is undefined => v === undefined || v.trim() === '';
const refuse = (message: string): never => {
  throw new ConfigIssue(message);
};

/** Splits a comma list, trimming and dropping empty entries. */
export function list(v: Raw): string[] {
  return (v ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
}

/** The trimmed value, or undefined when unset or blank. */
export function nonEmpty(v: Raw): string | undefined {
  return v !== undefined && v.trim() !== '' ? v.trim() : undefined;
}

/** Any text; undefined when unset. */
export const text = (): Parser<string | undefined> => () => (v) => v;

/** Text that must match `re` when set (trimmed); `hint` says what it should look like. */
export const matching =
  (re: RegExp, hint: string): Parser<string | undefined> =>
  (name) =>
  (v) =>
    blank(v) || re.test(v.trim()) ? v : refuse(`${name} must be ${hint}`);

/** Text of at least `min` characters when set. */
export const secret =
  (min: number, hint: string): Parser<string | undefined> =>
  (name) =>
  (v) =>
    v === undefined || v === '' || v.length >= min
      ? v
      : refuse(`${name} must be at least ${min} characters ${hint}`);

/** A number `accept`s; `describe` says what it must be (after the variable's name). */
const numeric =
  (def: number, accept: (n: number) => boolean, describe: string): Parser<number> =>
  (name) =>
  (v) => {
    if (blank(v)) return def;
    const n = Number(v);
    return Number.isFinite(n) && accept(n) ? n : refuse(`${name} must be ${describe}, got "${v}"`);
  };

/** An integer from min to max. */
export const int = (def: number, min: number, max: number): Parser<number> =>
  numeric(def, (n) => Number.isInteger(n) && n >= min && n <= max, `an integer from ${min} to ${max}`);

/** A number above 0 and below 1 (or at most 1 when `upToOne`). */
export const fraction = (def: number, upToOne: boolean, hint = ''): Parser<number> =>
  upToOne
    ? numeric(def, (n) => n > 0 && n <= 1, `a number above 0 and at most 1${hint}`)
    : numeric(def, (n) => n > 0 && n < 1, `a fraction between 0 and 1 (e.g. ${def})`);

/** One of `values` (case-insensitive), lower-cased; `def` when unset. */
export const oneOf =
  <const V extends string>(values: readonly V[], def: V): Parser<V> =>
  (name) =>
  (v) => {
    if (blank(v)) return def;
    const value = v.trim().toLowerCase();
    return (values as readonly string[]).includes(value)
      ? (value as V)
      : refuse(`${name} must be ${values.slice(0, -1).join(', ')} or ${values.at(-1)}, got "${v}"`);
  };

/** `v` as a URL when it parses and its protocol is one of `protocols`. */
function urlOf(v: string, protocols: readonly string[]): URL | undefined {
  try {
    const u = new URL(v);
    return protocols.includes(u.protocol) ? u : undefined;
  } catch {
    return undefined;
  }
}

/** An http(s) URL without trailing slashes; undefined when unset. */
export const url = (): Parser<string | undefined> => (name) => (v) => {
  if (blank(v)) return undefined;
  if (!urlOf(v, ['http:', 'https:'])) return refuse(`${name} must be an http(s) URL, got "${v}"`);
  return v.replace(/\/+$/, '');
};

/** A postgres:// or postgresql:// connection URL; undefined when unset. The value is never echoed (it may hold a password). */
export const databaseUrl = (): Parser<string | undefined> => (name) => (v) => {
  if (blank(v)) return undefined;
  if (!urlOf(v, ['postgres:', 'postgresql:']))
    return refuse(`${name} must be a postgres:// connection URL (e.g. postgres://user@127.0.0.1:5432/team)`);
  return v.trim();
};

/** A comma list whose entries all match `re`; `def` when unset (an empty list is refused when `nonEmptyList`). */
export function names<D extends readonly string[] | undefined>(
  re: RegExp,
  what: string,
  def: D,
  nonEmptyList = true,
): Parser<readonly string[] | D> {
  return (name) => (v) => {
    if (blank(v)) return def;
    const items = list(v);
    if (items.some((n) => !re.test(n)) || (nonEmptyList && items.length === 0))
      return refuse(`${name} must be a comma list of ${what}, got "${v}"`);
    return items;
  };
}

/** Regexes separated by `;;`. */
export const regexes = (): Parser<readonly RegExp[]> => (name) => (v) => {
  const sources = (v ?? '')
    .split(';;')
    .map((p) => p.trim())
    .filter(Boolean);
  try {
    return sources.map((p) => new RegExp(p, 'g'));
  } catch (error) {
    return refuse(`${name} has an invalid regex: ${(error as Error).message}`);
  }
};

/** Any parser with its own rule; `fail` refuses with a message ($NAME stands for the variable). */
export const custom =
  <T>(parse: (v: string | undefined, fail: (message: string) => never) => T): Parser<T> =>
  (name) =>
  (v) =>
    parse(v, (message) => refuse(message.replaceAll('$NAME', name)));
