/**
 * Parsers for environment variables. Each takes the variable's name (for the message) and
 * returns a zod schema from the raw string (or undefined) to the typed value with its default.
 * An unset or blank variable always means "the default".
 */
import { z } from 'zod';

export type Raw = string | undefined;
/** A parser for one variable: its name goes into every message. */
export type Parser<T> = (name: string) => z.ZodType<T, Raw>;

const blank = (v: Raw): v is undefined => v === undefined || v.trim() === '';

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
export const text = (): Parser<string | undefined> => () => z.string().optional();

/** Text that must match `re` when set (trimmed); `hint` says what it should look like. */
export const matching =
  (re: RegExp, hint: string): Parser<string | undefined> =>
  (name) =>
    z
      .string()
      .optional()
      .refine((v) => blank(v) || re.test(v.trim()), { message: `${name} must be ${hint}` });

/** Text of at least `min` characters when set. */
export const secret =
  (min: number, hint: string): Parser<string | undefined> =>
  (name) =>
    z
      .string()
      .optional()
      .refine((v) => v === undefined || v === '' || v.length >= min, {
        message: `${name} must be at least ${min} characters ${hint}`,
      });

/** A number `accept`s; `describe` says what it must be (after the variable's name). */
const numeric =
  (def: number, accept: (n: number) => boolean, describe: string): Parser<number> =>
  (name) =>
    z
      .string()
      .optional()
      .transform((v, ctx) => {
        if (blank(v)) return def;
        const n = Number(v);
        if (Number.isFinite(n) && accept(n)) return n;
        ctx.addIssue({ code: 'custom', message: `${name} must be ${describe}, got "${v}"` });
        return z.NEVER;
      });

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
    z
      .string()
      .optional()
      .transform((v, ctx) => {
        if (blank(v)) return def;
        const value = v.trim().toLowerCase();
        if ((values as readonly string[]).includes(value)) return value as V;
        ctx.addIssue({
          code: 'custom',
          message: `${name} must be ${values.slice(0, -1).join(', ')} or ${values.at(-1)}, got "${v}"`,
        });
        return z.NEVER;
      });

/** An http(s) URL without trailing slashes; undefined when unset. */
export const url = (): Parser<string | undefined> => (name) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (blank(v)) return undefined;
      try {
        const u = new URL(v);
        if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('protocol');
        return v.replace(/\/+$/, '');
      } catch {
        ctx.addIssue({ code: 'custom', message: `${name} must be an http(s) URL, got "${v}"` });
        return z.NEVER;
      }
    });

/** A comma list whose entries all match `re`; `def` when unset (an empty list is refused when `nonEmptyList`). */
export function names<D extends readonly string[] | undefined>(
  re: RegExp,
  what: string,
  def: D,
  nonEmptyList = true,
): Parser<readonly string[] | D> {
  return (name) =>
    z
      .string()
      .optional()
      .transform((v, ctx): readonly string[] | D => {
        if (blank(v)) return def;
        const items = list(v);
        if (items.some((n) => !re.test(n)) || (nonEmptyList && items.length === 0)) {
          ctx.addIssue({ code: 'custom', message: `${name} must be a comma list of ${what}, got "${v}"` });
          return z.NEVER;
        }
        return items;
      });
}

/** Regexes separated by `;;`. */
export const regexes = (): Parser<readonly RegExp[]> => (name) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      const sources = (v ?? '')
        .split(';;')
        .map((p) => p.trim())
        .filter(Boolean);
      try {
        return sources.map((p) => new RegExp(p, 'g'));
      } catch (error) {
        ctx.addIssue({
          code: 'custom',
          message: `${name} has an invalid regex: ${(error as Error).message}`,
        });
        return z.NEVER;
      }
    });

/** Any parser with its own rule, written as a transform. */
export const custom =
  <T>(parse: (v: string | undefined, fail: (message: string) => never) => T): Parser<T> =>
  (name) =>
    z
      .string()
      .optional()
      .transform((v, ctx) => {
        class Refused extends Error {}
        try {
          return parse(v, (message) => {
            throw new Refused(message.replaceAll('$NAME', name));
          });
        } catch (error) {
          if (!(error instanceof Refused)) throw error;
          ctx.addIssue({ code: 'custom', message: error.message });
          return z.NEVER;
        }
      });
