/**
 * The operation classifier: every command, scheduled job and agent action the server would run is
 * classified SAFE, REQUIRES_APPROVAL or BLOCKED first. Rules are data (data/operations.json plus
 * a project's <state>/operations.json). Each text is matched in several readings, and the most
 * severe verdict wins: normalised (case, quotes, backslash escapes, odd whitespace, SQL comments,
 * wrappers such as sudo/env, absolute program paths, combined and long flags; split at ; && || &
 * and newlines, pipelines checked as a whole) and parsed the way the programs parse it
 * (commandParse.ts: git's global options and abbreviations, refspecs, npm's options, what sh -c,
 * aliases, exec and xargs run). What cannot be read with confidence needs approval. Objects and
 * arrays are searched through, so a payload cannot hide a command in a field.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { AppError } from '../core/errors.js';
import { canonicalize, WRAPPER_VALUE_OPTIONS, WRAPPERS } from './commandParse.js';

export type Verdict = 'SAFE' | 'REQUIRES_APPROVAL' | 'BLOCKED';

const RANK: Record<Verdict, number> = { SAFE: 0, REQUIRES_APPROVAL: 1, BLOCKED: 2 };

export interface OperationRule {
  id: string;
  verdict: 'REQUIRES_APPROVAL' | 'BLOCKED';
  reason: string;
  pattern?: string;
  command?: string[];
  subcommand?: string;
  flags?: string[];
  anyFlags?: string[];
  targets?: string[];
  argsPattern?: string;
  pipeline?: { from: string[]; to: string[] };
}

const STRING_FIELDS = ['pattern', 'subcommand', 'argsPattern'] as const;
const LIST_FIELDS = ['command', 'flags', 'anyFlags', 'targets'] as const;
const ALLOWED = new Set(['id', 'verdict', 'reason', 'pipeline', ...STRING_FIELDS, ...LIST_FIELDS]);
const isList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

/**
 * Checks a rules file's shape; returns what is wrong, or the rules. Written out rather than with
 * a schema library: the classifier runs in Claude Code's PreToolUse hook on every command, where
 * loading one costs more than the check.
 */
function checkRules(raw: unknown): OperationRule[] | string {
  const doc = raw as { version?: unknown; rules?: unknown } | null;
  if (!doc || typeof doc !== 'object' || doc.version !== 1) return 'version must be 1';
  if (!Array.isArray(doc.rules)) return 'rules must be a list';
  for (const [i, rule] of (doc.rules as unknown[]).entries()) {
    const r = rule as Record<string, unknown> | null;
    const where = `rule ${i + 1}`;
    if (!r || typeof r !== 'object' || Array.isArray(r)) return `${where} is not an object`;
    const unknown = Object.keys(r).filter((k) => !ALLOWED.has(k));
    if (unknown.length) return `${where} has unknown fields ${unknown.join(', ')}`;
    if (typeof r.id !== 'string' || !r.id) return `${where} needs an id`;
    if (r.verdict !== 'REQUIRES_APPROVAL' && r.verdict !== 'BLOCKED')
      return `${r.id}: verdict must be REQUIRES_APPROVAL or BLOCKED`;
    if (typeof r.reason !== 'string' || !r.reason) return `${r.id}: reason is required`;
    for (const f of STRING_FIELDS)
      if (r[f] !== undefined && typeof r[f] !== 'string') return `${r.id}: ${f} must be text`;
    for (const f of LIST_FIELDS)
      if (r[f] !== undefined && !isList(r[f])) return `${r.id}: ${f} must be a list of text`;
    const p = r.pipeline as { from?: unknown; to?: unknown } | undefined;
    if (p !== undefined && (typeof p !== 'object' || !isList(p.from) || !isList(p.to)))
      return `${r.id}: pipeline needs from and to lists`;
    if (!r.pattern && !r.command && !r.pipeline) return `${r.id}: a rule needs pattern, command or pipeline`;
  }
  return doc.rules as OperationRule[];
}

interface CompiledRule extends OperationRule {
  regex?: RegExp;
  args?: RegExp;
}

export interface Classification {
  verdict: Verdict;
  /** Every rule that matched, most severe first. */
  matches: Array<{ rule: string; verdict: Verdict; reason: string }>;
  /** The normalised text that was matched. */
  normalized: string;
}

/** Wrappers that run the next word as the command (xargs too: the words after it are a command). */
const CLASSIFIER_WRAPPERS = new Set([...WRAPPERS, 'xargs']);

/** Long flags that mean a short one, per command. */
const LONG_ALIASES: Record<string, Record<string, string>> = {
  rm: { recursive: 'r', force: 'f', dir: 'd' },
  chmod: { recursive: 'r' },
  chown: { recursive: 'r' },
  git: {},
};

/** Lower-case, quotes and backslash escapes removed, whitespace collapsed, newlines as ';'. */
export function normalize(text: string): string {
  return (
    text
      .toLowerCase()
      // SQL block comments hide keywords (DROP/**/TABLE).
      .replace(/\/\*[\s\S]*?\*\//g, ' ')
      .replace(/\\\n/g, ' ')
      .replace(/\\(.)/g, '$1')
      .replace(/["'`]/g, '')
      .replace(/\r?\n/g, ' ; ')
      .replace(/[\t\v\f\u00a0\u1680\u2000-\u200b\u2028\u2029\u202f\u205f\u3000\ufeff]+/g, ' ')
      .replace(/ {2,}/g, ' ')
      .trim()
  );
}

interface ParsedCommand {
  name: string;
  flags: Set<string>;
  /** Non-flag words after the command (and after the subcommand when there is one). */
  args: string[];
  words: string[];
}

function parseCommand(segment: string): ParsedCommand | undefined {
  const words = segment.split(' ').filter(Boolean);
  let i = 0;
  // Skip assignments, wrappers and their options (sudo -u root, env -i, timeout 5).
  while (i < words.length) {
    const w = words[i]!;
    if (/^[a-z_][a-z0-9_]*=/.test(w)) i++;
    else if (CLASSIFIER_WRAPPERS.has(path.posix.basename(w))) {
      i++;
      while (i < words.length && (words[i]!.startsWith('-') || /^\d+[smh]?$/.test(words[i]!))) {
        // Options that take a value (sudo -u root, env -u VAR, nice -n 5) skip it too.
        if (WRAPPER_VALUE_OPTIONS.has(words[i]!)) i++;
        i++;
      }
    } else break;
  }
  const first = words[i];
  if (!first) return undefined;
  const name = path.posix.basename(first);
  const aliases = LONG_ALIASES[name] ?? {};
  const flags = new Set<string>();
  const args: string[] = [];
  for (const w of words.slice(i + 1)) {
    if (w.startsWith('--') && w.length > 2) {
      const long = w.slice(2).split('=')[0]!;
      flags.add(aliases[long] ?? long);
    } else if (w.startsWith('-') && w.length > 1 && !/^-\d/.test(w)) {
      for (const ch of w.slice(1)) flags.add(ch);
    } else args.push(w);
  }
  return { name, flags, args, words: words.slice(i) };
}

/** Commands of a text: split at ; && || & and newlines; each with its pipeline stages. */
function commands(text: string): Array<{ stages: string[] }> {
  return text
    .split(/;|&&|\|\||(?<![>&])&(?!>)/)
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => ({ stages: s.split('|').map((x) => x.trim()) }));
}

function matchesCommand(rule: CompiledRule, cmd: ParsedCommand): boolean {
  if (!rule.command!.includes(cmd.name) && !rule.command!.some((c) => cmd.name.startsWith(`${c}.`)))
    return false;
  let args = cmd.args;
  if (rule.subcommand) {
    if (args[0] !== rule.subcommand) return false;
    args = args.slice(1);
  }
  if (rule.flags && !rule.flags.every((f) => cmd.flags.has(f))) return false;
  if (rule.anyFlags && !rule.anyFlags.some((f) => cmd.flags.has(f))) return false;
  if (rule.targets) {
    const targets = args.map((a) => (a.length > 1 && a.endsWith('/') && a !== '~/' ? a.slice(0, -1) : a));
    if (!targets.some((t) => rule.targets!.includes(t))) return false;
  }
  if (rule.args && !rule.args.test(args.join(' '))) return false;
  return true;
}

/** An argv as shell text, so the tokenizer reads each element as one word. */
function shellJoin(words: readonly string[]): string {
  return words
    .map((w) => (/^[A-Za-z0-9_./:=@%+,-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`))
    .join(' ');
}

/** Every string inside a value (object keys included), and `command args...` joined. */
function strings(value: unknown, out: string[] = [], depth = 0): string[] {
  if (depth > 20) return out;
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) {
    if (value.every((v) => typeof v === 'string')) out.push(value.join(' '), shellJoin(value));
    for (const v of value) strings(v, out, depth + 1);
  } else if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (typeof o.command === 'string' && Array.isArray(o.args)) {
      const argv = [o.command, ...o.args.filter((a): a is string => typeof a === 'string')];
      out.push(argv.join(' '), shellJoin(argv));
    }
    for (const [k, v] of Object.entries(o)) {
      out.push(k);
      strings(v, out, depth + 1);
    }
  } else if (typeof value === 'number' || typeof value === 'boolean') out.push(String(value));
  return out;
}

export class OperationClassifier {
  private readonly rules: CompiledRule[];

  constructor(rules: readonly OperationRule[]) {
    this.rules = rules.map((r) => ({
      ...r,
      ...(r.pattern ? { regex: new RegExp(r.pattern, 'i') } : {}),
      ...(r.argsPattern ? { args: new RegExp(r.argsPattern, 'i') } : {}),
    }));
  }

  /** Loads the shipped rules and the project's own (which add to them). */
  static async load(dataDir: string, stateDir: string): Promise<OperationClassifier> {
    const shipped = await readRules(path.join(dataDir, 'operations.json'), true);
    const project = await readRules(path.join(stateDir, 'operations.json'), false);
    return new OperationClassifier([...shipped, ...project]);
  }

  private matches(rule: CompiledRule, text: string): boolean {
    if (rule.regex?.test(text)) return true;
    if (!rule.command && !rule.pipeline) return false;
    for (const { stages } of commands(text)) {
      if (
        rule.command &&
        stages.some((s) => {
          const c = parseCommand(s);
          return c !== undefined && matchesCommand(rule, c);
        })
      )
        return true;
      if (rule.pipeline) {
        const names = stages.map((s) => parseCommand(s)?.name ?? '');
        const from = names.findIndex((n) => rule.pipeline!.from.includes(n));
        if (from >= 0 && names.slice(from + 1).some((n) => rule.pipeline!.to.includes(n))) return true;
      }
    }
    return false;
  }

  classify(operation: unknown): Classification {
    const texts = strings(operation);
    const matches = new Map<string, { rule: string; verdict: Verdict; reason: string }>();
    const normalizedAll: string[] = [];
    for (const raw of texts) {
      const text = normalize(raw);
      if (!text) continue;
      normalizedAll.push(text);
      const parsed = canonicalize(raw);
      for (const o of parsed.opaque)
        if (!matches.has(o.rule))
          matches.set(o.rule, { rule: o.rule, verdict: 'REQUIRES_APPROVAL', reason: o.reason });
      // As SQL reads it: comments gone, newlines plain whitespace (not for commands, where -- separates paths).
      const sql = raw
        .toLowerCase()
        .replace(/\/\*[\s\S]*?\*\/|--[^\n]*/g, ' ')
        .replace(/[\s\u00a0\u1680\u2000-\u200b\u2028\u2029\u202f\u205f\u3000\ufeff]+/g, ' ');
      const readings = [...new Set([text, sql, ...parsed.texts.map(normalize)])];
      for (const rule of this.rules) {
        if (matches.has(rule.id)) continue;
        if (readings.some((reading) => this.matches(rule, reading)))
          matches.set(rule.id, { rule: rule.id, verdict: rule.verdict, reason: rule.reason });
      }
    }
    const list = [...matches.values()].sort((a, b) => RANK[b.verdict] - RANK[a.verdict]);
    return {
      verdict: list[0]?.verdict ?? 'SAFE',
      matches: list,
      normalized: normalizedAll.join(' | ').slice(0, 2000),
    };
  }
}

async function readRules(file: string, required: boolean): Promise<OperationRule[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (!required && (error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new AppError('CONFIG_INVALID', `Cannot read operation rules ${file}`, { cause: error });
  }
  let rules: OperationRule[] | string;
  try {
    rules = checkRules(JSON.parse(text));
  } catch {
    rules = 'not valid JSON';
  }
  if (typeof rules === 'string')
    throw new AppError('CONFIG_INVALID', `Invalid operation rules in ${file}: ${rules}`, {
      hint: 'Each rule needs id, verdict (BLOCKED or REQUIRES_APPROVAL), reason and a pattern, command or pipeline',
    });
  for (const r of rules) {
    for (const re of [r.pattern, r.argsPattern])
      if (re)
        try {
          new RegExp(re, 'i');
        } catch {
          throw new AppError('CONFIG_INVALID', `Rule ${r.id} in ${file} has an invalid regex`);
        }
  }
  return rules;
}
