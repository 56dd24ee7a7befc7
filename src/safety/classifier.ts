/**
 * The operation classifier: every command, scheduled job and agent action the server would run,
 * and every command Claude Code's Bash tool would run (through the plugin's PreToolUse hook), is
 * classified SAFE, REQUIRES_APPROVAL or BLOCKED first.
 *
 * A command line is read with Bash's grammar (shell/), so a command is judged wherever it stands:
 * in a subshell or group, an if/for/while body, a function, a pipeline, a command or process
 * substitution, a here-document fed to a shell, the text of `sh -c`, `eval`, `script -c`, `env -S`,
 * a git alias. Each simple command is then read as its program reads its argv: wrappers (sudo, env,
 * timeout, xargs, script...) unwrapped, git and npm in canonical form, the files it writes or
 * deletes resolved through symbolic links. What Bash decides only when it runs (a program word that
 * is a variable, a glob or a substitution; an argument of that kind where it matters; text piped
 * into a shell or an interpreter; inline code) needs a person: never guessed, never let through.
 *
 * Rules are data (data/operations.json plus a project's <state>/operations.json); the facts about
 * programs are in shell/programs.ts. Every step is linear in the text, and a text longer than
 * MAX_SHELL_CHARS is not read at all: it needs approval.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AppError } from '../core/errors.js';
import { expandGit, expandNpm, packageRun } from './commandParse.js';
import { isInside, RealPathCache, realPathSync } from './paths.js';
import { loadBashParser, loadedBashParser } from './shell/bashParser.js';
import { expandGlob } from './shell/globs.js';
import {
  AWKS,
  CLAUDE_MARKERS,
  DELETERS,
  DOWNLOADERS,
  FLAG_SENSITIVE,
  GENERATED_FOLDERS,
  GIT_MESSAGE_OPTIONS,
  GIT_SENSITIVE,
  HUMAN_COMMANDS,
  interpreterOf,
  MULTI_CALL,
  OPAQUE_OPTION_WRAPPERS,
  OUTPUT_OPTIONS,
  READERS,
  SHELLS,
  SQL_CLIENTS,
  WRAPPERS,
  WRITERS,
} from './shell/programs.js';
import type { InterpreterSpec, WrapperSpec } from './shell/programs.js';
import { readPlainShell, readShell, splitTopLevel } from './shell/shellReading.js';
import type { ShellArg, ShellCommand, ShellReading, StdinSource } from './shell/shellReading.js';
import { scanSql, SQL_KINDS } from './sqlScan.js';
import type { SqlKind } from './sqlScan.js';

export type Verdict = 'SAFE' | 'REQUIRES_APPROVAL' | 'BLOCKED';

const RANK: Record<Verdict, number> = { SAFE: 0, REQUIRES_APPROVAL: 1, BLOCKED: 2 };

/** The longest command text that is read; anything longer needs approval unread. */
export const MAX_SHELL_CHARS = 64 * 1024;
/** What a classifier loaded with `grammar: 'when-needed'` lacks until classifyShellLoaded loads it. */
const GRAMMAR = 'shell-grammar';
/** Shell texts inside shell texts (sh -c, eval, scripts) read at most this deep... */
const MAX_NESTING = 6;
/** ...and at most this much text in all per classification (scripts read from files count). */
const MAX_TOTAL_CHARS = 4 * MAX_SHELL_CHARS;
/** Script files larger than this are not read. */
const MAX_SCRIPT_BYTES = 256 * 1024;
/** Project regex rules look at a command's text up to this length (longer: approval). */
const MAX_PATTERN_TEXT = 8 * 1024;

export interface OperationRule {
  id: string;
  verdict: 'REQUIRES_APPROVAL' | 'BLOCKED';
  reason: string;
  /** A regular expression over one command's text (projects' rules; bounded length). */
  pattern?: string;
  command?: string[];
  subcommand?: string;
  flags?: string[];
  anyFlags?: string[];
  /** The rule does not match when any of these flags is given (git restore --staged). */
  unlessFlags?: string[];
  targets?: string[];
  argsPattern?: string;
  pipeline?: { from: string[]; to: string[] };
  /** A kind of SQL statement (see sqlScan.ts) in SQL a database client would run. */
  sql?: SqlKind;
}

const STRING_FIELDS = ['pattern', 'subcommand', 'argsPattern', 'sql'] as const;
const LIST_FIELDS = ['command', 'flags', 'anyFlags', 'unlessFlags', 'targets'] as const;
const ALLOWED = new Set(['id', 'verdict', 'reason', 'pipeline', ...STRING_FIELDS, ...LIST_FIELDS]);
const isList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

interface RulesFile {
  rules: OperationRule[];
  generatedFolders: string[];
}

/**
 * Checks a rules file's shape; returns what is wrong, or the rules. Written out rather than with
 * a schema library: the classifier runs in Claude Code's PreToolUse hook on every command, where
 * loading one costs more than the check.
 */
function checkRules(raw: unknown): RulesFile | string {
  const doc = raw as { version?: unknown; rules?: unknown; generated_folders?: unknown } | null;
  if (!doc || typeof doc !== 'object' || doc.version !== 1) return 'version must be 1';
  if (!Array.isArray(doc.rules)) return 'rules must be a list';
  if (doc.generated_folders !== undefined && !isList(doc.generated_folders))
    return 'generated_folders must be a list of folder names';
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
    if (r.sql !== undefined && !(SQL_KINDS as readonly string[]).includes(r.sql as string))
      return `${r.id}: sql must be one of ${SQL_KINDS.join(', ')}`;
    if (!r.pattern && !r.command && !r.pipeline && !r.sql && !r.argsPattern)
      return `${r.id}: a rule needs command, pipeline, sql, argsPattern or pattern`;
  }
  return { rules: doc.rules as OperationRule[], generatedFolders: (doc.generated_folders as string[]) ?? [] };
}

interface CompiledRule extends OperationRule {
  regex?: RegExp;
  args?: RegExp;
}

export interface Match {
  rule: string;
  verdict: Verdict;
  reason: string;
}

export interface Classification {
  verdict: Verdict;
  /** Every rule that matched, most severe first. */
  matches: Match[];
  /** The commands that were read, shortened (for logs and messages). */
  normalized: string;
}

/** Where the classifier stands: the project, its state folder, the home folder. */
export interface ClassifierOptions {
  /** Default: the current folder. */
  projectDir?: string;
  /** Default: <projectDir>/.task-orchestrator. */
  stateDir?: string;
  /** Default: os.homedir(). */
  home?: string;
  /** Folders writes to which need no approval. Default: os.tmpdir(), /tmp, /var/tmp. */
  tempDirs?: string[];
  /** This package's CLI entry (dist/cli.js), recognised however it is started. */
  cliPath?: string;
  /** Folder names that may be deleted freely inside the project (added to GENERATED_FOLDERS). */
  generatedFolders?: readonly string[];
}

export interface ClassifyContext {
  /** Where the command starts. Default: the project folder. */
  cwd?: string;
}

/** Long flags that mean a short one, per command. */
const LONG_ALIASES: Record<string, Record<string, string>> = {
  rm: { recursive: 'r', force: 'f', dir: 'd' },
  chmod: { recursive: 'r' },
  chown: { recursive: 'r' },
};

/** Block devices: writing one destroys a disk. */
const BLOCK_DEVICE = /^\/dev\/(sd|hd|vd|xvd|nvme|mmcblk|disk|rdisk|md|dm-|loop|sr|nbd|mapper\/)/;
/** Device files a write to is harmless. */
const HARMLESS_DEVICE = /^\/dev\/(null|zero|stdout|stderr|stdin|tty|full|random|urandom|fd\/\d+)$/;
/** Top-level system folders. */
const SYSTEM_FOLDERS = new Set([
  '/',
  '/bin',
  '/boot',
  '/dev',
  '/etc',
  '/home',
  '/lib',
  '/lib32',
  '/lib64',
  '/opt',
  '/proc',
  '/root',
  '/sbin',
  '/srv',
  '/sys',
  '/usr',
  '/var',
  '/Users',
  '/System',
  '/Library',
  '/Applications',
]);
/** Variables that make a program load code (their value runs). */
const LOADS_CODE =
  /^(LD_PRELOAD|LD_LIBRARY_PATH|LD_AUDIT|DYLD_[A-Z_]+|BASH_ENV|ENV|PROMPT_COMMAND|PERL5OPT|PERL5LIB|RUBYOPT|PYTHONSTARTUP|PYTHONPATH|NODE_PATH)$/;
/** Variables whose value is a command that programs run (git's editors and hooks, pagers). */
const COMMAND_VARIABLES =
  /^(GIT_SSH_COMMAND|GIT_EDITOR|GIT_SEQUENCE_EDITOR|GIT_EXTERNAL_DIFF|GIT_PAGER|GIT_ASKPASS|SSH_ASKPASS|EDITOR|VISUAL|PAGER|MANPAGER|SHELL|BROWSER)$/;

/** Text that names our CLI and one of the person's commands (keystrokes, inline code, unreadable text). */
const HUMAN_WORD = /(?:^|[^a-z-])(approve|reject|waive-gates|dashboard|hook)(?:[^a-z-]|$)/i;
export function mentionsHumanChannel(text: string): boolean {
  const lower = text.toLowerCase();
  return (lower.includes('task-orchestrator') || lower.includes('cli.js')) && HUMAN_WORD.test(text);
}

const basename = (word: string) => path.posix.basename(word);

/** Options and operands of an argv, by a program's value-taking options. */
function operandsOf(
  args: readonly ShellArg[],
  valueOptions: readonly string[] = [],
): { operands: ShellArg[]; options: Array<{ name: string; value?: ShellArg }> } {
  const operands: ShellArg[] = [];
  const options: Array<{ name: string; value?: ShellArg }> = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const text = a.text;
    if (text === '--' && a.literal) {
      operands.push(...args.slice(i + 1));
      break;
    }
    if (text !== undefined && a.literal && text.startsWith('-') && text.length > 1) {
      const eq = text.indexOf('=');
      const name = eq > 0 ? text.slice(0, eq) : text;
      if (eq > 0) options.push({ name, value: { text: text.slice(eq + 1), literal: true } });
      else if (valueOptions.includes(name)) {
        const value = args[++i];
        options.push(value ? { name, value } : { name });
      } else options.push({ name });
      continue;
    }
    operands.push(a);
  }
  return { operands, options };
}

const arg = (text: string): ShellArg => ({ text, literal: true });

/** The classification of one call: the matches found so far, and how much text was read. */
class Check {
  private readonly found = new Map<string, Match>();
  private readonly seenTexts: string[] = [];
  private charsRead = 0;
  /** Folders resolved in this decision (one command may name thousands of files in a few). */
  private readonly paths = new RealPathCache();

  constructor(private readonly c: OperationClassifier) {}

  add(rule: string, verdict: Exclude<Verdict, 'SAFE'>, reason: string): void {
    const had = this.found.get(rule);
    if (!had || RANK[verdict] > RANK[had.verdict]) this.found.set(rule, { rule, verdict, reason });
  }

  result(): Classification {
    const list = [...this.found.values()].sort((a, b) => RANK[b.verdict] - RANK[a.verdict]);
    return {
      verdict: list[0]?.verdict ?? 'SAFE',
      matches: list,
      normalized: this.seenTexts.join(' | ').slice(0, 2000),
    };
  }

  /** Anything a payload holds: strings are command lines, string lists are argvs. */
  operation(value: unknown, cwd: string, depth = 0): void {
    if (depth > 20) return;
    if (typeof value === 'string') {
      // A payload's text may be SQL for a database as well as a command line.
      this.sql(value);
      this.shellText(value, cwd, 0, 'command');
    } else if (Array.isArray(value)) {
      if (value.length > 0 && value.every((v) => typeof v === 'string')) this.argv(value, cwd);
      else for (const v of value) this.operation(v, cwd, depth + 1);
    } else if (value && typeof value === 'object') {
      const o = value as Record<string, unknown>;
      if (typeof o.command === 'string' && Array.isArray(o.args))
        this.argv([o.command, ...o.args.filter((a): a is string => typeof a === 'string')], cwd);
      for (const [k, v] of Object.entries(o)) {
        if (k === 'command' && Array.isArray(o.args)) continue;
        this.operation(v, cwd, depth + 1);
      }
    }
  }

  /**
   * An argv as a program receives it (no shell in between). Its words are also read as SQL (an
   * agent's action may carry a statement), and when they hold shell syntax, the line they would
   * make if something joined them for a shell is read too: what that reading blocks is blocked
   * (only that: its other findings describe a command the program never sees).
   */
  argv(words: readonly string[], cwd: string): void {
    if (words.length === 0) return;
    this.seenTexts.push(words.join(' ').slice(0, 300));
    for (const w of words) this.sql(w);
    if (words.some((w) => /[;|&$`<>(){}\n]/.test(w))) {
      const joined = new Check(this.c);
      joined.shellText(words.join(' '), cwd, 1, 'command');
      for (const m of joined.result().matches)
        if (m.verdict === 'BLOCKED') this.add(m.rule, m.verdict, m.reason);
    }
    const cmd: ShellCommand = {
      argv: words.map(arg),
      assignments: [],
      redirects: [],
      stdin: { kind: 'inherited' },
      cwd,
      source: words.join(' ').slice(0, 300),
      detached: false,
    };
    this.command(cmd, 0);
  }

  /** A command line, read with Bash's grammar. */
  shellText(text: string, cwd: string | undefined, depth: number, what: string): void {
    if (!text.trim()) return;
    if (text.length > MAX_SHELL_CHARS) {
      this.add(
        'too-long',
        'REQUIRES_APPROVAL',
        `the ${what} is ${text.length} characters long; above ${MAX_SHELL_CHARS} it is not read, so a person decides`,
      );
      return;
    }
    if (depth > MAX_NESTING) {
      this.add('too-deep', 'REQUIRES_APPROVAL', `commands nested ${depth} deep are not read`);
      return;
    }
    this.charsRead += text.length;
    if (this.charsRead > MAX_TOTAL_CHARS) {
      this.add('too-long', 'REQUIRES_APPROVAL', 'more nested command text than is read in one decision');
      return;
    }
    if (depth === 0) this.seenTexts.push(text.slice(0, 300));
    // A plain command (words Bash takes as written) is read without the grammar.
    const reading =
      readPlainShell(text, { cwd, home: this.c.home }) ?? this.readWithGrammar(text, cwd, depth, what);
    if (!reading) return;
    try {
      this.judge(reading, depth);
    } catch (error) {
      // Whatever this text does to the reader, it is not let through unread.
      if (error instanceof AppError) throw error;
      this.add(
        'unreadable',
        'REQUIRES_APPROVAL',
        `the ${what} could not be read (${error instanceof Error ? error.message.slice(0, 120) : 'error'})`,
      );
    }
  }

  /** Reads shell text with the grammar; undefined when it cannot be read (a person is asked). */
  private readWithGrammar(
    text: string,
    cwd: string | undefined,
    depth: number,
    what: string,
  ): ShellReading | undefined {
    const parser = loadedBashParser();
    if (!parser)
      throw new AppError('INTERNAL', 'The shell parser is not loaded', {
        hint: 'Create the classifier with OperationClassifier.load, or use classifyShellLoaded',
        details: { needs: GRAMMAR },
      });
    const tree = parser.parse(text);
    let reading: ShellReading;
    try {
      reading = readShell(tree.rootNode, { cwd, home: this.c.home });
    } catch (error) {
      // The reader bounds its depth; a stack that still runs out (or anything else the text does
      // to the reader) means the text is not read, and so not let through.
      if (error instanceof RangeError)
        this.add('too-deep', 'REQUIRES_APPROVAL', 'the command nests too deep to read');
      else
        this.add(
          'unreadable',
          'REQUIRES_APPROVAL',
          `the ${what} could not be read (${String(error).slice(0, 120)})`,
        );
      return undefined;
    } finally {
      tree.delete();
    }
    for (const p of reading.problems) this.add(p.rule, 'REQUIRES_APPROVAL', p.reason);
    if (reading.problems.length > 0) {
      this.opaqueText(text);
      // What can still be read is still judged: each top-level piece on its own.
      const pieces = splitTopLevel(text);
      if (pieces.length > 1)
        for (const piece of pieces.slice(0, 200)) this.shellText(piece, cwd, depth + 1, what);
    }
    return reading;
  }

  private judge(reading: ShellReading, depth: number): void {
    for (const name of reading.assigned)
      if (CLAUDE_MARKERS.test(name))
        this.add(
          'hides-claude-code',
          'BLOCKED',
          `changes ${name}, by which task-orchestrator knows a command runs inside Claude Code`,
        );
    for (const cmd of reading.commands) this.command(cmd, depth);
  }

  /** Text that is code or keystrokes rather than a command read here: what it names is checked. */
  private opaqueText(text: string): void {
    if (mentionsHumanChannel(text))
      this.add(
        'human-channel',
        'BLOCKED',
        "names task-orchestrator's approve/reject/waive-gates/dashboard/hook: only a person at their own terminal decides",
      );
    if (text.includes('.task-orchestrator') || this.c.mentionsStateDir(text))
      this.add(
        'state-folder',
        'BLOCKED',
        "names task-orchestrator's state folder (failure memory, approvals, budgets); change it through the MCP tools",
      );
  }

  /** One simple command as the shell read it. */
  command(cmd: ShellCommand, depth: number): void {
    for (const a of cmd.assignments) this.assignment(a.name, a.value, cmd, depth);
    for (const r of cmd.redirects) this.pathUse(r.target, r.cwd, r.mode === 'read' ? 'read' : 'write');
    const [program, ...args] = cmd.argv;
    if (!program) return;
    if (cmd.inFunction && cmd.detached && program.literal && program.text === cmd.inFunction)
      this.add(
        'fork-bomb',
        'BLOCKED',
        'a function that starts copies of itself in the background (fork bomb)',
      );
    if (!program.literal || program.text === undefined) {
      this.add(
        'program-not-literal',
        'REQUIRES_APPROVAL',
        `the program is ${program.dynamic ?? 'not written out'}: what runs is decided only when it runs`,
      );
      const human = args.find((a) => a.literal && HUMAN_COMMANDS.has(a.text ?? ''));
      if (human)
        this.add(
          'human-channel',
          'BLOCKED',
          `a program not written out with "${human.text}": it could be task-orchestrator ${human.text}, which only a person decides`,
        );
      const candidates =
        program.text === undefined
          ? []
          : program.glob
            ? (expandGlob(program.text, cmd.cwd ?? '/') ?? [])
            : [program.text];
      for (const candidate of candidates.slice(0, 8)) this.run([arg(candidate), ...args], cmd, depth, false);
      // It may be a shell ($SHELL -c TEXT): the text it would run is judged too.
      const c = args.findIndex((a) => a.literal && /^-[a-z]*c$/.test(a.text ?? ''));
      if (c >= 0 && args[c + 1]) this.textOf([args[c + 1]!], cmd.cwd, depth, 'text after -c');
      return;
    }
    this.run(cmd.argv, cmd, depth, false);
  }

  private assignment(name: string, value: ShellArg, cmd: ShellCommand, depth: number): void {
    if (CLAUDE_MARKERS.test(name))
      this.add(
        'hides-claude-code',
        'BLOCKED',
        `changes ${name}, by which task-orchestrator knows a command runs inside Claude Code`,
      );
    else if (LOADS_CODE.test(name))
      this.add('loads-code', 'REQUIRES_APPROVAL', `sets ${name}, which makes programs load code from it`);
    else if (
      name === 'NODE_OPTIONS' &&
      /(^|\s)(-r|--require|--import|--loader|--experimental-loader)\b/.test(value.text ?? '-r')
    )
      this.add('loads-code', 'REQUIRES_APPROVAL', 'sets NODE_OPTIONS to load code into every node program');
    else if (COMMAND_VARIABLES.test(name)) {
      if (value.text === undefined)
        this.add('program-not-literal', 'REQUIRES_APPROVAL', `${name} is set to a command not written out`);
      else this.shellText(value.text, cmd.cwd, depth + 1, `${name} command`);
    }
  }

  /**
   * A command whose program word is known: unwrap, recognise, match rules.
   * @param extraArgs xargs/parallel add arguments the text does not show
   */
  private run(argv: ShellArg[], cmd: ShellCommand, depth: number, extraArgs: boolean): void {
    const program = argv[0]!.text!;
    const name = basename(program);
    const lname = name.toLowerCase();
    const args = argv.slice(1);
    const cwd = cmd.cwd;
    this.rules(argv, cmd);
    if (MULTI_CALL.has(lname)) {
      if (args[0]?.literal && args[0].text !== undefined) this.run(args, cmd, depth, extraArgs);
      else if (args[0])
        this.add(
          'program-not-literal',
          'REQUIRES_APPROVAL',
          `${name} runs a program that is not written out`,
        );
      return;
    }
    const wrapper = WRAPPERS[lname];
    if (wrapper) return this.wrapper(lname, wrapper, args, cmd, depth, extraArgs);
    if (extraArgs && (FLAG_SENSITIVE.has(lname) || DELETERS.has(lname)))
      this.add(
        'argument-not-literal',
        'REQUIRES_APPROVAL',
        `${name} gets arguments from its input that the command does not show`,
      );
    if (this.ourCli(argv, cmd)) return;
    switch (lname) {
      case 'eval':
        this.add('eval', 'REQUIRES_APPROVAL', 'eval runs text built at run time');
        return this.textOf(args, cwd, depth, 'eval text');
      case 'alias': {
        const defs = args.filter((a) => a.text?.includes('='));
        if (defs.length)
          this.add(
            'alias',
            'REQUIRES_APPROVAL',
            'defines an alias: a later command name then runs something else',
          );
        for (const d of defs)
          this.textOf([{ ...d, text: d.text!.slice(d.text!.indexOf('=') + 1) }], cwd, depth, 'alias');
        return;
      }
      case 'trap':
        if (args[0] && !args[0].text?.startsWith('-')) this.textOf([args[0]], cwd, depth, 'trap command');
        return;
      case 'fc':
        this.add('eval', 'REQUIRES_APPROVAL', 'fc runs commands from the history');
        return;
      case 'source':
      case '.':
        if (args[0]) this.scriptFile(args[0], cwd, depth, name);
        return;
      case 'exec':
      case 'command':
      case 'builtin':
        return;
    }
    if (program.includes('/') && !SHELLS.has(lname)) this.programFile(program, cwd, depth);
    if (SHELLS.has(lname)) return this.shell(name, args, cmd, depth);
    const interpreter = interpreterOf(name);
    if (interpreter && !AWKS.has(lname)) return this.interpreter(name, interpreter, args, cmd);
    if (AWKS.has(lname)) return this.awk(name, args, cmd);
    if (SQL_CLIENTS.has(lname)) this.sqlClient(name, args, cmd);
    if (lname === 'git') return this.git(args, cmd, depth);
    if (lname === 'npm' || lname === 'pnpm' || lname === 'yarn') return this.npm(lname, args, cmd, depth);
    if (lname === 'npx' || lname === 'bunx' || lname === 'pnpx')
      return this.packageRun(name, packageRun(args.map((a) => a.text ?? '')), args, cmd, depth);
    if (lname === 'find') return this.find(args, cmd, depth);
    if (lname === 'sed') return this.sed(args, cmd);
    if (lname === 'kill') return this.kill(args);
    if (lname === 'tmux' || lname === 'screen') return this.terminal(name, args);
    if (lname === 'socat') return this.socat(args, cmd, depth);
    if (lname === 'at' || lname === 'batch' || lname === 'crontab') return this.scheduler(name, args, cmd);
    if (lname === 'dd') {
      for (const a of args)
        if (a.text?.startsWith('of=')) this.pathUse({ ...a, text: a.text.slice(3) }, cwd, 'write');
        else if (!a.literal)
          this.add(
            'argument-not-literal',
            'REQUIRES_APPROVAL',
            `dd ${a.dynamic ?? 'an argument'} is not written out`,
          );
      return;
    }
    if (DELETERS.has(lname)) return this.deleter(lname, args, cwd);
    const writer = WRITERS[lname];
    if (writer) this.writer(lname, writer, args, cwd);
    const outputs = OUTPUT_OPTIONS[lname];
    if (outputs?.length) {
      const { options } = operandsOf(args, outputs);
      for (const o of options) if (outputs.includes(o.name) && o.value) this.pathUse(o.value, cwd, 'write');
    }
    if (FLAG_SENSITIVE.has(lname)) this.nonLiteralArgs(name, args);
    if (!READERS.has(lname) && !writer) this.mentions(name, args, cwd);
  }

  /** Matches the data rules against a known argv. */
  private rules(argv: ShellArg[], cmd: ShellCommand): void {
    const words = argv.map((a) => (a.text ?? '\u0000').toLowerCase());
    const name = basename(words[0]!);
    let canonical = [name, ...words.slice(1)];
    if (name === 'git') canonical = expandGit(words.slice(1)).words;
    else if (name === 'npm' || name === 'pnpm' || name === 'yarn')
      canonical = expandNpm(name, words.slice(1)).words;
    const aliases = LONG_ALIASES[name] ?? {};
    const flags = new Set<string>();
    const rest: string[] = [];
    for (const w of canonical.slice(1)) {
      if (w.startsWith('--') && w.length > 2) {
        const long = w.slice(2).split('=')[0]!;
        flags.add(aliases[long] ?? long);
      } else if (w.startsWith('-') && w.length > 1 && !/^-\d/.test(w)) {
        for (const ch of w.slice(1)) flags.add(ch);
      } else rest.push(w);
    }
    // What feeds the command, looked up only for a rule about this program (a long pipeline is cheap).
    let upstream: string[] | undefined;
    let text: string | undefined;
    for (const rule of this.c.rulesFor(name)) {
      if (rule.pipeline) {
        if (
          rule.pipeline.to.includes(name) &&
          (upstream ??= pipeSources(cmd.stdin)).some((u) => rule.pipeline!.from.includes(u))
        )
          this.add(rule.id, rule.verdict, rule.reason);
        continue;
      }
      let args = rest;
      if (rule.subcommand) {
        if (args[0] !== rule.subcommand) continue;
        args = args.slice(1);
      }
      if (rule.flags && !rule.flags.every((f) => flags.has(f))) continue;
      if (rule.anyFlags && !rule.anyFlags.some((f) => flags.has(f))) continue;
      if (rule.unlessFlags?.some((f) => flags.has(f))) continue;
      if (rule.targets && !args.some((a) => rule.targets!.includes(a))) continue;
      if (rule.args && !rule.args.test(args.join(' ').slice(0, MAX_PATTERN_TEXT))) continue;
      if (rule.regex) {
        text ??= canonical.join(' ');
        if (text.length > MAX_PATTERN_TEXT) {
          this.add(
            'too-long',
            'REQUIRES_APPROVAL',
            `the command is too long for the project's pattern rules`,
          );
          continue;
        }
        if (!rule.regex.test(text)) continue;
      }
      this.add(rule.id, rule.verdict, rule.reason);
    }
  }

  private sql(text: string): void {
    const kinds = scanSql(text);
    if (kinds.size === 0) return;
    for (const rule of this.c.compiled)
      if (rule.sql && kinds.has(rule.sql)) this.add(rule.id, rule.verdict, rule.reason);
  }

  /** Shell text given as arguments (eval, alias values, trap, joined words). */
  private textOf(args: ShellArg[], cwd: string | undefined, depth: number, what: string): void {
    if (args.length === 0) return;
    if (args.some((a) => a.text === undefined)) {
      this.add('program-not-literal', 'REQUIRES_APPROVAL', `the ${what} is built at run time`);
      const known = args.map((a) => a.text ?? '').join(' ');
      this.opaqueText(known);
      return;
    }
    this.shellText(args.map((a) => a.text).join(' '), cwd, depth + 1, what);
  }

  private wrapper(
    name: string,
    spec: WrapperSpec,
    args: ShellArg[],
    cmd: ShellCommand,
    depth: number,
    extraArgs: boolean,
  ): void {
    let cwd = cmd.cwd;
    let i = 0;
    let skip = spec.skipOperands ?? 0;
    for (; i < args.length; i++) {
      const a = args[i]!;
      const text = a.text;
      if (text === undefined) break;
      if (a.literal && text === '--') {
        i++;
        break;
      }
      if (a.literal && text.startsWith('-') && text.length > 1) {
        const [option, inline] =
          text.startsWith('--') && text.includes('=')
            ? [text.slice(0, text.indexOf('=')), text.slice(text.indexOf('=') + 1)]
            : [text, undefined];
        if (spec.runsNothingWith?.includes(option)) return;
        const takesText = spec.textOptions?.includes(option);
        const takesValue = spec.valueOptions?.includes(option);
        let value: ShellArg | undefined;
        if (inline !== undefined) value = arg(inline);
        else if (takesText || takesValue) value = args[++i];
        else if (
          spec.textOptions &&
          option.length > 2 &&
          !option.startsWith('--') &&
          spec.textOptions.includes(`-${option.at(-1)}`)
        ) {
          // A group ending in a text option (su -lc TEXT).
          value = args[++i];
          if (value) this.textOf([value], cwd, depth, `${name} command`);
          return;
        }
        if (takesText && value) {
          this.textOf([value], cwd, depth, `${name} command`);
          return;
        }
        if (
          name === 'env' &&
          (option === '-u' || option === '--unset') &&
          value?.text &&
          CLAUDE_MARKERS.test(value.text)
        )
          this.assignment(value.text, arg(''), cmd, depth);
        if (name === 'env' && (option === '-C' || option === '--chdir') && value)
          cwd =
            value.literal && value.text !== undefined && cwd !== undefined
              ? path.resolve(cwd, value.text)
              : undefined;
        if (name === 'env' && (option === '-i' || option === '--ignore-environment'))
          this.add(
            'hides-claude-code',
            'REQUIRES_APPROVAL',
            'env -i starts a program without the environment Claude Code gives it',
          );
        continue;
      }
      if (OPAQUE_OPTION_WRAPPERS.has(name) && text.startsWith('-')) continue;
      if (spec.assignments && a.literal && /^[A-Za-z_][A-Za-z0-9_]*=/.test(text)) {
        const eq = text.indexOf('=');
        this.assignment(text.slice(0, eq), arg(text.slice(eq + 1)), cmd, depth);
        continue;
      }
      if (skip > 0) {
        skip--;
        continue;
      }
      break;
    }
    const rest = args.slice(i);
    if (rest.length === 0) return;
    if (spec.joinsText) return this.textOf(rest, cwd, depth, `${name} command`);
    const inner = { ...cmd, cwd };
    const [first] = rest;
    if (!first!.literal || first!.text === undefined) {
      this.command({ ...inner, argv: rest }, depth);
      return;
    }
    this.run(rest, inner, depth, extraArgs || Boolean(spec.addsArguments));
  }

  /** Whether the argv runs this package's CLI with a person's command; blocks it if so. */
  private ourCli(argv: ShellArg[], cmd: ShellCommand): boolean {
    const words = argv.map((a) => a.text ?? '');
    const name = basename(words[0]!).toLowerCase();
    let at = -1;
    if (name === 'task-orchestrator' || this.c.isCliPath(words[0]!, cmd.cwd)) at = 1;
    else if (['node', 'nodejs', 'bun', 'deno', 'tsx', 'ts-node'].includes(name)) {
      const script = words.findIndex(
        (w, k) => k > 0 && !w.startsWith('-') && words[k - 1] !== '-r' && words[k - 1] !== '--require',
      );
      if (
        script > 0 &&
        (this.c.isCliPath(words[script]!, cmd.cwd) ||
          /(^|\/)(task-orchestrator\/.*|dist\/)cli\.js$/.test(words[script]!))
      )
        at = script + 1;
    }
    if (at < 0) return false;
    const sub = words.slice(at).find((w) => !w.startsWith('-'));
    if (sub === undefined || !HUMAN_COMMANDS.has(sub)) return false;
    this.add(
      'human-channel',
      'BLOCKED',
      `task-orchestrator ${sub} is the person's channel (approvals, the review desk, Claude Code's hook events): an agent may not run it, however wrapped`,
    );
    return true;
  }

  /** A shell's or an interpreter's argument that Bash decides at run time: the person decides. */
  private notWrittenOut(name: string, a: ShellArg): void {
    this.add(
      'program-not-literal',
      'REQUIRES_APPROVAL',
      `${name} gets ${a.dynamic ?? 'an argument'} that is not written out`,
    );
  }

  private shell(name: string, args: ShellArg[], cmd: ShellCommand, depth: number): void {
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      const text = a.text;
      if (text === undefined) return this.notWrittenOut(name, a);
      if (
        text === '-c' ||
        (/^-[a-zA-Z]+$/.test(text) && text.endsWith('c') && text !== '-c' && !text.startsWith('--'))
      ) {
        const body = args[i + 1];
        if (!body) return;
        return this.textOf([body], cmd.cwd, depth, `${name} -c text`);
      }
      if (text === '-s' || text === '-') break;
      if (text.startsWith('-') || text.startsWith('+')) {
        if (['-o', '+o', '-O', '+O', '--rcfile', '--init-file'].includes(text)) i++;
        continue;
      }
      // `bash script.sh args`: the script is read like any other command text.
      return this.scriptFile(a, cmd.cwd, depth, name);
    }
    this.fedText(name, cmd, depth, true);
  }

  /** A shell or interpreter reading its program from standard input. */
  private fedText(name: string, cmd: ShellCommand, depth: number, isShell: boolean): void {
    const stdin = cmd.stdin;
    if (stdin.kind === 'inherited') return;
    if (stdin.kind === 'file') {
      if (isShell) this.scriptFile(stdin.path, stdin.cwd, depth, name);
      else
        this.add(
          'text-into-interpreter',
          'REQUIRES_APPROVAL',
          `${name} runs the program in a file fed to its input`,
        );
      return;
    }
    const from = stdin.kind === 'pipe' ? pipeSources(stdin).join(', ') : `a ${stdin.kind}`;
    this.add(
      isShell ? 'text-into-shell' : 'text-into-interpreter',
      'REQUIRES_APPROVAL',
      `text from ${from || 'a pipe'} is run by ${name}: what it runs is not read here`,
    );
    if (stdin.kind === 'pipe' && pipeSources(stdin).some((u) => DOWNLOADERS.has(u)))
      this.add('pipe-to-shell', 'BLOCKED', `downloads and runs a program (${from} piped into ${name})`);
    const body = stdin.kind === 'pipe' ? echoed(stdin) : stdin.body.text;
    if (body !== undefined) {
      if (isShell) this.shellText(body, cmd.cwd, depth + 1, `text fed to ${name}`);
      else this.opaqueText(body);
    }
  }

  private interpreter(name: string, spec: InterpreterSpec, args: ShellArg[], cmd: ShellCommand): void {
    let code: ShellArg | undefined;
    let option = '';
    let script: ShellArg | undefined;
    for (let i = 0; i < args.length; i++) {
      const a = args[i]!;
      const text = a.text;
      if (text === undefined) return this.notWrittenOut(name, a);
      if (i === 0 && spec.codeSubcommands?.includes(text)) {
        code = args[1] ?? arg('');
        option = text;
        break;
      }
      if (spec.codeOptions.includes(text)) {
        code = args[i + 1] ?? arg('');
        option = text;
        break;
      }
      const eq = text.indexOf('=');
      if (eq > 0 && spec.codeOptions.includes(text.slice(0, eq))) {
        code = arg(text.slice(eq + 1));
        option = text.slice(0, eq);
        break;
      }
      if (
        spec.loadOptions?.some(
          (o) =>
            text === o ||
            text.startsWith(`${o}=`) ||
            (o.length === 2 && !o.startsWith('--') && text.startsWith(o) && text.length > 2),
        )
      ) {
        const value = text.includes('=')
          ? text.slice(text.indexOf('=') + 1)
          : text.length > 2 && !text.startsWith('--')
            ? text.slice(2)
            : args[++i]?.text;
        if (value === undefined || /^data:/i.test(value) || name.startsWith('perl'))
          this.add(
            'inline-code',
            'REQUIRES_APPROVAL',
            `${name} ${text} loads code given on the command line`,
          );
        continue;
      }
      if (/^-[A-Za-z]+$/.test(text)) {
        if (spec.inPlaceLetters && [...text.slice(1)].some((l) => spec.inPlaceLetters!.includes(l))) {
          // perl -pi -e ... FILES: the files are rewritten.
          const files = operandsOf(args.slice(i + 1), ['-e', '-E']).operands.slice(1);
          for (const f of files) this.pathUse(f, cmd.cwd, 'write');
        }
        const last = text.at(-1)!;
        if (spec.codeLetters?.includes(last)) {
          code = args[i + 1] ?? arg('');
          option = text;
          break;
        }
        if (spec.valueOptions?.includes(text)) i++;
        if (text === '-m' && name.startsWith('python')) return;
        continue;
      }
      if (text.startsWith('-') && text !== '-') {
        if (spec.valueOptions?.includes(text)) i++;
        continue;
      }
      script = a;
      break;
    }
    if (code) {
      this.add(
        'inline-code',
        'REQUIRES_APPROVAL',
        `${name} ${option} runs code given on the command line, which is not read here`,
      );
      if (code.text !== undefined) this.opaqueText(code.text);
      this.mentions(name, args, cmd.cwd);
      return;
    }
    if (!script || script.text === '-') return this.fedText(name, cmd, 0, false);
    this.mentions(name, args, cmd.cwd);
  }

  private awk(name: string, args: ShellArg[], cmd: ShellCommand): void {
    const { operands, options } = operandsOf(args, ['-F', '-v', '-f', '--file', '-i', '--include', '-E']);
    const fromFile = options.some((o) => o.name === '-f' || o.name === '--file');
    const program = fromFile ? undefined : operands[0];
    if (program && program.text === undefined)
      this.add('inline-code', 'REQUIRES_APPROVAL', `the ${name} program is built at run time`);
    else if (
      program?.text !== undefined &&
      /system|\||>|getline|close|fflush|printf?\s*[^;]*>/.test(program.text)
    ) {
      this.add(
        'inline-code',
        'REQUIRES_APPROVAL',
        `the ${name} program runs commands or writes files (system, | or >)`,
      );
      this.opaqueText(program.text);
    }
    this.mentions(
      name,
      args.filter((a) => a !== program),
      cmd.cwd,
    );
  }

  private sed(args: ShellArg[], cmd: ShellCommand): void {
    const { operands, options } = operandsOf(args, [
      '-e',
      '--expression',
      '-f',
      '--file',
      '-l',
      '--line-length',
      '-s',
    ]);
    const inPlace = options.some(
      (o) => o.name === '-i' || o.name.startsWith('--in-place') || /^-[a-zA-Z]*i/.test(o.name),
    );
    const scripts = options.filter((o) => o.name === '-e' || o.name === '--expression').map((o) => o.value);
    const hasScriptOption = scripts.length > 0 || options.some((o) => o.name === '-f' || o.name === '--file');
    if (!hasScriptOption && operands[0]) scripts.push(operands[0]);
    const files = hasScriptOption ? operands : operands.slice(1);
    for (const s of scripts) {
      if (!s || s.text === undefined)
        this.add('inline-code', 'REQUIRES_APPROVAL', 'the sed script is built at run time');
      else if (sedRunsOrWrites(s.text)) {
        this.add('inline-code', 'REQUIRES_APPROVAL', 'the sed script runs commands or writes files (e or w)');
        this.opaqueText(s.text);
      }
    }
    for (const f of files) this.pathUse(f, cmd.cwd, inPlace ? 'write' : 'read');
  }

  private find(args: ShellArg[], cmd: ShellCommand, depth: number): void {
    const starts: ShellArg[] = [];
    let k = 0;
    for (; k < args.length; k++) {
      const t = args[k]!.text;
      if (t !== undefined && (t.startsWith('-') || t === '(' || t === '!')) break;
      starts.push(args[k]!);
    }
    if (starts.length === 0) starts.push(arg('.'));
    for (; k < args.length; k++) {
      const t = args[k]!.text;
      if (t === '-delete') {
        for (const s of starts) this.pathUse(s, cmd.cwd, 'delete-recursive');
        this.add('find-delete', 'REQUIRES_APPROVAL', 'find -delete removes every file it finds');
      } else if (t === '-exec' || t === '-execdir' || t === '-ok' || t === '-okdir') {
        const end = args.findIndex((b, j) => j > k && (b.text === ';' || b.text === '+'));
        const inner = args
          .slice(k + 1, end < 0 ? undefined : end)
          .map((a) =>
            a.text === '{}' ? { text: undefined, literal: false, dynamic: 'the files find finds' } : a,
          );
        if (inner[0]?.text !== undefined) this.run(inner, cmd, depth, false);
        else if (inner[0]) this.command({ ...cmd, argv: inner }, depth);
        k = end < 0 ? args.length : end;
      } else if (t !== undefined && (OUTPUT_OPTIONS.find ?? []).includes(t) && args[k + 1]) {
        this.pathUse(args[k + 1]!, cmd.cwd, 'write');
        k++;
      }
    }
    for (const s of starts) this.pathUse(s, cmd.cwd, 'read');
  }

  private git(args: ShellArg[], cmd: ShellCommand, depth: number): void {
    const words = args.map((a) => a.text ?? '\u0000');
    const expansion = expandGit(words);
    for (const o of expansion.opaque) this.add(o.rule, 'REQUIRES_APPROVAL', o.reason);
    for (const text of expansion.inner)
      this.shellText(text, cmd.cwd, depth + 1, 'git alias or --exec command');
    const sub = expansion.words[1];
    if (sub === '\u0000') {
      this.add('argument-not-literal', 'REQUIRES_APPROVAL', 'the git command is not written out');
      return;
    }
    if (sub && GIT_SENSITIVE.has(sub)) {
      const start = words.indexOf(sub);
      for (let i = start + 1; i < args.length; i++) {
        const a = args[i]!;
        if (a.literal) {
          if (a.text && GIT_MESSAGE_OPTIONS.has(a.text)) i++;
          continue;
        }
        const previous = args[i - 1]?.text ?? '';
        if (/^--(message|file|author|date)=/.test(a.text ?? '')) continue;
        if (GIT_MESSAGE_OPTIONS.has(previous)) continue;
        this.add(
          'argument-not-literal',
          'REQUIRES_APPROVAL',
          `git ${sub} gets ${a.dynamic ?? 'an argument'} that is not written out (it could be a flag that discards work)`,
        );
        break;
      }
    }
    if (sub === 'clone' || sub === 'init' || sub === 'worktree') {
      const { operands } = operandsOf(args.slice(words.indexOf(sub) + 1), [
        '-b',
        '--branch',
        '--depth',
        '-o',
        '--origin',
        '--reference',
        '-c',
        '--config',
        '--template',
        '--separate-git-dir',
      ]);
      const target = sub === 'clone' ? operands[1] : sub === 'init' ? operands[0] : operands[1];
      if (target) this.pathUse(target, cmd.cwd, 'write');
    }
    this.mentions('git', args, cmd.cwd);
  }

  private npm(name: string, args: ShellArg[], cmd: ShellCommand, depth: number): void {
    const expansion = expandNpm(
      name,
      args.map((a) => a.text ?? '\u0000'),
    );
    for (const text of expansion.inner) this.shellText(text, cmd.cwd, depth + 1, `${name} exec -c text`);
    if (expansion.run) this.packageRun(`${name} ${expansion.words[1]}`, expansion.run, args, cmd, depth);
    const prefix = operandsOf(args, ['--prefix', '-C']).options.find(
      (o) => o.name === '--prefix' || o.name === '-C',
    );
    if (prefix?.value) this.pathUse(prefix.value, cmd.cwd, 'write');
  }

  /** npx / npm exec: a program the project has installed runs as itself; anything else is fetched. */
  private packageRun(
    name: string,
    run: ReturnType<typeof packageRun>,
    args: ShellArg[],
    cmd: ShellCommand,
    depth: number,
  ): void {
    const bin = run.argv[0];
    const local = bin !== undefined && !run.fetches && this.c.localBin(bin, cmd.cwd);
    if (!local) {
      this.add(
        'package-exec',
        'REQUIRES_APPROVAL',
        `${name} ${bin ?? ''} fetches a package and runs its program`.replace(/\s+$/, ''),
      );
      if (bin === 'task-orchestrator' || run.argv.some((w) => w.includes('task-orchestrator')))
        this.ourCli([arg('task-orchestrator'), ...run.argv.slice(1).map(arg)], cmd);
    }
    if (bin === undefined) return;
    // What it runs, with the words as written (their quoting is known here).
    const at = args.findIndex((a) => a.text === bin);
    const words = at >= 0 ? args.slice(at) : run.argv.map(arg);
    this.run(words, cmd, depth + 1, false);
  }

  private kill(args: ShellArg[]): void {
    const list = args.map((a) => a.text);
    if (list.some((t) => t === undefined)) {
      this.add('argument-not-literal', 'REQUIRES_APPROVAL', 'kill gets process ids that are not written out');
      return;
    }
    let i = 0;
    if (list[0] === '-l' || list[0] === '-L') return;
    if (list[0] === '-s' || list[0] === '-n') i = 2;
    else if (list[0]?.startsWith('-') && list[0] !== '--') i = 1;
    if (list[i] === '--') i++;
    const targets = list.slice(i);
    if (targets.length === 0) return;
    const broad = targets.find(
      (t) => !(t !== undefined && (/^%\d*$/.test(t) || (/^\d+$/.test(t) && Number(t) > 1))),
    );
    if (broad !== undefined)
      this.add(
        'kill-all',
        'REQUIRES_APPROVAL',
        `kill ${broad} signals more than one named process (a group, init, or every process)`,
      );
  }

  private terminal(name: string, args: ShellArg[]): void {
    const words = args.map((a) => a.text ?? '');
    if (
      name === 'tmux' &&
      words.some((w) =>
        /^(send-keys|send|capture-pane|capturep|pipe-pane|pipep|paste-buffer|pasteb|show-buffer|showb|save-buffer|saveb|load-buffer|loadb|set-buffer|setb|respawn-pane|respawn-window|new-session|new-window|split-window|run-shell|run|if-shell|if)$/.test(
          w,
        ),
      )
    ) {
      this.add(
        'terminal-control',
        'REQUIRES_APPROVAL',
        `${name} ${words.find((w) => !w.startsWith('-'))} reads or types into a terminal, or runs a command in one`,
      );
      this.opaqueText(words.join(' '));
    } else if (
      name === 'screen' &&
      words.some((w) => w === '-X' || w === '-dm' || w === '-dmS' || w === '-d')
    ) {
      this.add(
        'terminal-control',
        'REQUIRES_APPROVAL',
        `${name} -X types into or runs commands in a terminal session`,
      );
      this.opaqueText(words.join(' '));
    }
  }

  /** socat ADDRESS ADDRESS: an EXEC: or SYSTEM: address runs a command (with a pty if asked). */
  private socat(args: ShellArg[], cmd: ShellCommand, depth: number): void {
    for (const a of args) {
      const m = /^(exec|system):(.*)$/is.exec(a.text ?? '');
      if (!m) continue;
      this.add('program-not-literal', 'REQUIRES_APPROVAL', 'socat runs a command given in its address');
      // The command runs up to the first unescaped comma (socat's address options follow it).
      this.shellText(m[2]!.split(/(?<!\\),/)[0]!, cmd.cwd, depth + 1, 'socat command');
    }
  }

  private scheduler(name: string, args: ShellArg[], cmd: ShellCommand): void {
    const words = args.map((a) => a.text ?? '');
    if (name === 'crontab' && words.includes('-l') && !words.includes('-r') && !words.includes('-e')) return;
    this.add(
      'scheduled-commands',
      'REQUIRES_APPROVAL',
      `${name} sets commands to run later, outside this session`,
    );
    const body =
      cmd.stdin.kind === 'heredoc' || cmd.stdin.kind === 'herestring'
        ? cmd.stdin.body.text
        : cmd.stdin.kind === 'pipe'
          ? echoed(cmd.stdin)
          : undefined;
    if (body !== undefined) this.opaqueText(body);
  }

  private sqlClient(name: string, args: ShellArg[], cmd: ShellCommand): void {
    for (const a of args) {
      if (a.text === undefined)
        this.add(
          'argument-not-literal',
          'REQUIRES_APPROVAL',
          `${name} gets SQL or options that are not written out`,
        );
      else this.sql(a.text);
    }
    const stdin = cmd.stdin;
    if (stdin.kind === 'heredoc' || stdin.kind === 'herestring') {
      if (stdin.body.text === undefined)
        this.add('text-into-interpreter', 'REQUIRES_APPROVAL', `${name} runs SQL built at run time`);
      else this.sql(stdin.body.text);
    } else if (stdin.kind === 'pipe') {
      const body = echoed(stdin);
      if (body !== undefined) this.sql(body);
      else
        this.add(
          'text-into-interpreter',
          'REQUIRES_APPROVAL',
          `${name} runs SQL from ${pipeSources(stdin).join(', ') || 'a pipe'}, which is not read here`,
        );
    }
  }

  private deleter(name: string, args: ShellArg[], cwd: string | undefined): void {
    const { operands, options } = operandsOf(args);
    const recursive =
      ['rimraf', 'del', 'del-cli', 'trash', 'trash-put', 'shx'].includes(name) ||
      options.some((o) => o.name === '--recursive' || (/^-[a-zA-Z]+$/.test(o.name) && /[rR]/.test(o.name)));
    if (name === 'rm' && options.some((o) => o.name === '--no-preserve-root'))
      this.add('rm-no-preserve-root', 'BLOCKED', 'rm --no-preserve-root deletes the whole file system');
    this.nonLiteralArgs(name, args);
    const targets = name === 'shx' ? operands.slice(1) : operands;
    for (const t of targets) this.pathUse(t, cwd, recursive ? 'delete-recursive' : 'delete');
  }

  private writer(
    name: string,
    spec: (typeof WRITERS)[string],
    args: ShellArg[],
    cwd: string | undefined,
  ): void {
    const { operands, options } = operandsOf(args, spec.valueOptions);
    const targetDir = options.find((o) => o.name === '-t' || o.name === '--target-directory');
    let writes: ShellArg[];
    if (targetDir?.value) writes = [targetDir.value];
    else if (spec.writes === 'all') writes = operands;
    else if (spec.writes === 'last')
      writes = operands.length > 1 || name === 'ln' || name === 'split' ? operands.slice(-1) : [];
    else writes = operands.slice(1);
    if (spec.movesSources) writes = [...new Set([...writes, ...operands])];
    if (
      name === 'rsync' &&
      options.some((o) => o.name.startsWith('--delete') || o.name === '--remove-source-files')
    )
      for (const w of writes) this.pathUse(w, cwd, 'delete-recursive');
    const recursive = options.some(
      (o) =>
        o.name === '--recursive' || o.name === '-R' || (/^-[a-zA-Z]+$/.test(o.name) && o.name.includes('R')),
    );
    for (const w of writes)
      this.pathUse(
        w,
        cwd,
        (name === 'chmod' || name === 'chown' || name === 'chgrp') && recursive
          ? 'change-recursive'
          : 'write',
      );
    // What the others read (cp's sources, ln's target) may still not be the state folder.
    this.mentions(
      name,
      operands.filter((o) => !writes.includes(o)),
      cwd,
    );
  }

  /** Arguments not written out, for a program whose arguments decide what it destroys. */
  private nonLiteralArgs(name: string, args: ShellArg[]): void {
    const dynamic = args.find((a) => !a.literal);
    if (dynamic)
      this.add(
        'argument-not-literal',
        'REQUIRES_APPROVAL',
        `${name} gets ${dynamic.dynamic ?? 'an argument'} that is not written out`,
      );
  }

  /** Any argument naming the state folder (programs that may write what they are given). */
  private mentions(name: string, args: ShellArg[], cwd: string | undefined): void {
    for (const a of args) {
      if (a.text === undefined) continue;
      const resolved = this.c.resolve(a.text, cwd);
      const hit =
        a.text.includes('.task-orchestrator') ||
        this.c.mentionsStateDir(a.text) ||
        (resolved !== undefined && this.c.inStateFolder(resolved, this.paths.resolve(resolved).real));
      if (hit) {
        this.add(
          'state-folder',
          'BLOCKED',
          `${name} is given ${a.text.slice(0, 120)}, in task-orchestrator's state folder (failure memory, approvals, budgets): change it through the MCP tools`,
        );
        return;
      }
    }
  }

  /** A script file a shell runs (bash FILE, source FILE, sh < FILE): read and classified like the command line. */
  private scriptFile(file: ShellArg, cwd: string | undefined, depth: number, by: string): void {
    if (file.text === undefined || file.glob) {
      this.add(
        'program-not-literal',
        'REQUIRES_APPROVAL',
        `${by} runs a script named by ${file.dynamic ?? 'an expansion'}`,
      );
      return;
    }
    const resolved = this.c.resolve(file.text, cwd);
    if (resolved === undefined) {
      this.add(
        'unknown-folder',
        'REQUIRES_APPROVAL',
        `${by} runs ${file.text} from a folder not known before it runs`,
      );
      return;
    }
    this.readScript(resolved, file.text, cwd, depth, by, true);
  }

  /** A program started by its path (./run.sh): a shell script is read like the command line. */
  private programFile(program: string, cwd: string | undefined, depth: number): void {
    const resolved = this.c.resolve(program, cwd);
    if (resolved !== undefined) this.readScript(resolved, program, cwd, depth, program, false);
  }

  /**
   * Reads a script before it runs (it runs with the caller's folder). A shell that is told to run
   * one that does not exist yet (the same command writes it) cannot be read first: a person decides.
   */
  private readScript(
    file: string,
    shown: string,
    cwd: string | undefined,
    depth: number,
    by: string,
    isShell: boolean,
  ): void {
    if (this.c.inStateFolder(file, this.paths.resolve(file).real))
      this.add('state-folder', 'BLOCKED', `${by} runs ${shown}, in task-orchestrator's state folder`);
    const head = readHead(file);
    if (head === undefined) {
      if (isShell)
        this.add(
          'script-missing',
          'REQUIRES_APPROVAL',
          `${by} runs ${shown}, which does not exist yet (written by this same command?): it cannot be read first`,
        );
      return;
    }
    const firstLine = head.text.split('\n')[0] ?? '';
    const shellScript = firstLine.startsWith('#!')
      ? /^#!\s*\S*\/(env\s+)?(ba|z|k|da|a|mk)?sh\b/.test(firstLine)
      : /\.(sh|bash)$/.test(file);
    if (!isShell && !shellScript) return;
    if (head.size > MAX_SCRIPT_BYTES) {
      this.add('too-long', 'REQUIRES_APPROVAL', `${shown} is too large to read before it runs`);
      return;
    }
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return;
    }
    this.shellText(text, cwd, depth + 1, `script ${shown}`);
  }

  /**
   * What a path argument is used for, decided by where it really lands (links followed): the state
   * folder never, devices and places outside the project (temp folders aside) with a person.
   */
  pathUse(target: ShellArg, cwd: string | undefined, use: PathUse): void {
    const c = this.c;
    const writes = use !== 'read';
    if (target.text === undefined) {
      if (writes)
        this.add(
          'argument-not-literal',
          'REQUIRES_APPROVAL',
          `writes or deletes a path given by ${target.dynamic ?? 'an expansion'}, which is decided only when it runs`,
        );
      return;
    }
    let candidates: string[];
    if (target.glob) {
      const base = cwd ?? (path.isAbsolute(target.text) ? '/' : undefined);
      const matched = base === undefined ? undefined : expandGlob(target.text, base);
      if (writes && (matched === undefined || use === 'write'))
        this.add(
          'argument-not-literal',
          'REQUIRES_APPROVAL',
          `writes or deletes the files of the pattern ${target.text.slice(0, 80)}, decided only when it runs`,
        );
      // A pattern that matches nothing is passed on as written (Bash's default): that path counts too.
      const literal = base === undefined ? undefined : path.resolve(base, target.text);
      candidates = [...(matched ?? []), ...(literal ? [literal] : [])];
      if (use.startsWith('delete') && base !== undefined) {
        // `rm -rf *` / `~/*`: everything in a folder that must never be emptied.
        const folder = path.resolve(base, path.dirname(target.text));
        if (/^(\*|\.\*|\*\.\*)$/.test(path.basename(target.text)) && c.isCritical(realPathSync(folder)))
          this.add(
            'rm-recursive-force-root',
            'BLOCKED',
            `deletes everything in ${folder} (the root, home, a system folder or the project)`,
          );
      }
    } else {
      const resolved = c.resolve(target.text, cwd);
      if (resolved === undefined) {
        if (writes)
          this.add(
            'unknown-folder',
            'REQUIRES_APPROVAL',
            `writes ${target.text} relative to a folder not known before it runs`,
          );
        else if (target.text.includes('.task-orchestrator')) this.opaqueText(target.text);
        return;
      }
      candidates = [resolved];
    }
    for (const nominal of candidates) {
      const { real, stat } = this.paths.resolve(nominal);
      if (writes && c.inStateFolder(nominal, real)) {
        this.add(
          'state-folder',
          'BLOCKED',
          `${use === 'write' ? 'writes' : 'deletes or changes'} ${target.text.slice(0, 120)}, in task-orchestrator's state folder (failure memory, approvals, budgets): change it through the MCP tools`,
        );
        continue;
      }
      if (!writes) continue;
      if (real.startsWith('/dev/') || nominal.startsWith('/dev/')) {
        const device = real.startsWith('/dev/') ? real : nominal;
        if (BLOCK_DEVICE.test(device))
          this.add('write-to-device', 'BLOCKED', `writes to the disk device ${device}`);
        else if (!HARMLESS_DEVICE.test(device) && !HARMLESS_DEVICE.test(nominal))
          this.add('write-to-device', 'REQUIRES_APPROVAL', `writes to the device ${device}`);
        continue;
      }
      const recursive = use === 'delete-recursive' || use === 'change-recursive';
      if (recursive && c.isCritical(real)) {
        this.add(
          use === 'change-recursive' ? 'chmod-777-root' : 'rm-recursive-force-root',
          'BLOCKED',
          `${use === 'change-recursive' ? 'changes permissions of' : 'deletes'} ${real} (the root, home, a system folder or the whole project)`,
        );
        continue;
      }
      const inProject = isInside(c.projectReal, real);
      if (inProject) {
        const rel = path.relative(c.projectReal, real);
        const parts = rel.split(path.sep);
        if (
          parts[0] === '.claude' ||
          rel === '.mcp.json' ||
          (parts[0] === '.git' && (parts[1] === 'hooks' || parts[1] === 'config'))
        )
          this.add(
            'agent-settings',
            'REQUIRES_APPROVAL',
            `changes ${rel} (Claude Code's settings and hooks, MCP servers or git hooks run programs)`,
          );
        // A folder that is not there now may be made by this very command: the careful guess.
        else if (
          use === 'delete-recursive' &&
          !parts.some((p) => c.generated.has(p)) &&
          (stat === undefined || stat.isDirectory())
        )
          this.add(
            'rm-recursive',
            'REQUIRES_APPROVAL',
            `deletes the folder ${rel || '.'} and everything in it`,
          );
        continue;
      }
      // The home folder before the temp folders: a home under /tmp (a throwaway one) is still home.
      if (isInside(c.home, real)) {
        const first = path.relative(c.home, real).split(path.sep)[0] ?? '';
        if (first.startsWith('.'))
          this.add(
            'home-dotfile',
            'REQUIRES_APPROVAL',
            `changes ${path.join('~', path.relative(c.home, real))} (a dotfile or settings folder in your home)`,
          );
        else
          this.add(
            'outside-project',
            'REQUIRES_APPROVAL',
            `changes ${real}, outside the project (${c.projectDir})`,
          );
        continue;
      }
      if (c.tempDirs.some((t) => isInside(t, real))) continue;
      this.add(
        'outside-project',
        'REQUIRES_APPROVAL',
        `changes ${real}, outside the project (${c.projectDir})`,
      );
    }
  }
}

export type PathUse = 'read' | 'write' | 'delete' | 'delete-recursive' | 'change-recursive';

/** The first bytes of a regular file and its size; undefined when there is none. */
function readHead(file: string): { text: string; size: number } | undefined {
  let fd: number | undefined;
  try {
    const st = statSync(file);
    if (!st.isFile()) return undefined;
    fd = openSync(file, 'r');
    const buffer = Buffer.alloc(256);
    const read = readSync(fd, buffer, 0, 256, 0);
    return { text: buffer.subarray(0, read).toString('utf8'), size: st.size };
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Program names upstream of a pipe (what feeds this command), wrappers looked through. Bounded. */
function pipeSources(stdin: StdinSource): string[] {
  const names: string[] = [];
  const queue: ShellCommand[] = stdin.kind === 'pipe' ? [...stdin.from] : [];
  const seen = new Set<ShellCommand>();
  while (queue.length > 0 && seen.size < 64) {
    const c = queue.shift()!;
    if (seen.has(c)) continue;
    seen.add(c);
    const p = c.argv[0];
    if (p?.text !== undefined) {
      names.push(basename(p.text).toLowerCase());
      // A wrapper's program counts too (sudo curl ...).
      const inner = c.argv.slice(1).find((a) => a.text !== undefined && !a.text.startsWith('-'));
      if (WRAPPERS[basename(p.text)] && inner?.text) names.push(basename(inner.text).toLowerCase());
    }
    if (c.stdin.kind === 'pipe') queue.push(...c.stdin.from);
  }
  return names;
}

/** The text a pipe carries when it is an echo/printf of literal words (else undefined). */
function echoed(stdin: StdinSource): string | undefined {
  if (stdin.kind !== 'pipe' || stdin.from.length !== 1) return undefined;
  const only = stdin.from[0]!;
  if (only.stdin.kind !== 'inherited' && only.stdin.kind !== 'pipe') {
    if (
      only.argv[0]?.text === 'cat' &&
      only.argv.length === 1 &&
      (only.stdin.kind === 'heredoc' || only.stdin.kind === 'herestring')
    )
      return only.stdin.body.text;
  }
  const words = only.argv.map((a) => a.text);
  if (words.some((w) => w === undefined)) return undefined;
  if (words[0] === 'echo')
    return words
      .slice(1)
      .filter((w) => !/^-[neE]+$/.test(w!))
      .join(' ');
  if (words[0] === 'printf' && words.length === 2) return words[1];
  return undefined;
}

/** Whether a sed script runs commands (e) or writes files (w, W, s///w, s///e). */
export function sedRunsOrWrites(script: string): boolean {
  let i = 0;
  const n = script.length;
  const skipSpace = () => {
    while (i < n && /[\s;{}!]/.test(script[i]!)) i++;
  };
  const skipDelimited = (delim: string) => {
    while (i < n && script[i] !== delim) {
      if (script[i] === '\\') i++;
      i++;
    }
    i++;
  };
  while (i < n) {
    skipSpace();
    // Addresses: numbers, $, /re/, \cREc, ranges and steps.
    for (;;) {
      if (i < n && /[\d$,~+]/.test(script[i]!)) i++;
      else if (script[i] === '/') {
        i++;
        skipDelimited('/');
      } else if (script[i] === '\\' && i + 1 < n) {
        const d = script[i + 1]!;
        i += 2;
        skipDelimited(d);
      } else break;
    }
    while (i < n && /[\s!]/.test(script[i]!)) i++;
    const command = script[i];
    if (command === undefined) break;
    i++;
    if (command === 'e' || command === 'w' || command === 'W') return true;
    if (command === 's' || command === 'y') {
      const d = script[i];
      if (d === undefined) break;
      i++;
      skipDelimited(d);
      skipDelimited(d);
      if (command === 's') {
        let flags = '';
        while (i < n && !/[;\n}]/.test(script[i]!)) flags += script[i++];
        if (/[ew]/.test(flags.split(/\s/)[0] ?? '')) return true;
      }
      continue;
    }
    if ('aicrRbtTlqQ:'.includes(command)) {
      // Their argument runs to the end of the line.
      while (
        i < n &&
        script[i] !== '\n' &&
        !(command === 'b' || command === 't' || command === 'T' ? script[i] === ';' : false)
      )
        i++;
    }
  }
  return false;
}

export class OperationClassifier {
  readonly compiled: CompiledRule[];
  /** Rules by the program (or the pipeline's last program) they are about; the rest apply to all. */
  private readonly byProgram = new Map<string, CompiledRule[]>();
  private readonly general: CompiledRule[] = [];
  readonly projectDir: string;
  readonly projectReal: string;
  readonly stateDir: string;
  private readonly stateReal: string;
  readonly home: string;
  readonly tempDirs: string[];
  readonly generated: Set<string>;
  private readonly cliPath: string | undefined;
  private readonly cliReal: string | undefined;

  constructor(rules: readonly OperationRule[], options: ClassifierOptions = {}) {
    this.compiled = rules.map((r) => ({
      ...r,
      ...(r.pattern ? { regex: new RegExp(r.pattern, 'i') } : {}),
      ...(r.argsPattern ? { args: new RegExp(r.argsPattern, 'i') } : {}),
    }));
    for (const rule of this.compiled) {
      if (rule.sql) continue;
      const names = rule.pipeline?.to ?? rule.command;
      if (!names) this.general.push(rule);
      else for (const n of names) this.byProgram.set(n, [...(this.byProgram.get(n) ?? []), rule]);
    }
    this.projectDir = path.resolve(options.projectDir ?? process.cwd());
    this.projectReal = realPathSync(this.projectDir);
    this.stateDir = path.resolve(options.stateDir ?? path.join(this.projectDir, '.task-orchestrator'));
    this.stateReal = realPathSync(this.stateDir);
    this.home = path.resolve(options.home ?? os.homedir());
    this.tempDirs = [
      ...new Set((options.tempDirs ?? [os.tmpdir(), '/tmp', '/var/tmp']).map((t) => realPathSync(t))),
    ];
    this.generated = new Set([...GENERATED_FOLDERS, ...(options.generatedFolders ?? [])]);
    this.cliPath = options.cliPath;
    this.cliReal = options.cliPath ? realPathSync(options.cliPath) : undefined;
  }

  /**
   * Loads the shipped rules and the project's own (which add to them), and the shell parser.
   * @throws AppError CONFIG_INVALID for a rules file that is not valid.
   */
  static async load(
    dataDir: string,
    stateDir: string,
    options: ClassifierOptions & { grammar?: 'now' | 'when-needed' } = {},
  ): Promise<OperationClassifier> {
    const shipped = readRules(path.join(dataDir, 'operations.json'), true);
    const project = readRules(path.join(stateDir, 'operations.json'), false);
    if (options.grammar !== 'when-needed') await loadBashParser();
    return new OperationClassifier([...shipped.rules, ...project.rules], {
      stateDir,
      ...options,
      generatedFolders: [
        ...shipped.generatedFolders,
        ...project.generatedFolders,
        ...(options.generatedFolders ?? []),
      ],
    });
  }

  /** Any operation: a command line, an argv, or a payload holding them (searched through). */
  classify(operation: unknown, context: ClassifyContext = {}): Classification {
    const check = new Check(this);
    check.operation(operation, context.cwd ?? this.projectDir);
    return check.result();
  }

  /** A command line as Claude Code's Bash tool would run it. */
  classifyShell(text: string, context: ClassifyContext = {}): Classification {
    const check = new Check(this);
    check.shellText(text, context.cwd ?? this.projectDir, 0, 'command');
    return check.result();
  }

  /**
   * classifyShell for a classifier loaded with `grammar: 'when-needed'`: the shell grammar is
   * loaded (once) only when some text to read is not a plain command.
   */
  async classifyShellLoaded(text: string, context: ClassifyContext = {}): Promise<Classification> {
    try {
      return this.classifyShell(text, context);
    } catch (error) {
      if (!(error instanceof AppError) || error.details?.needs !== GRAMMAR) throw error;
      await loadBashParser();
      return this.classifyShell(text, context);
    }
  }

  /** A file a file tool (Write, Edit) would write. */
  classifyWrite(file: string, context: ClassifyContext = {}): Classification {
    const check = new Check(this);
    check.pathUse(arg(file), context.cwd ?? this.projectDir, 'write');
    return check.result();
  }

  /** An absolute path for `text` (tilde already expanded by the reader), or undefined when cwd is unknown. */
  resolve(text: string, cwd: string | undefined): string | undefined {
    const expanded =
      text === '~' ? this.home : text.startsWith('~/') ? path.join(this.home, text.slice(2)) : text;
    if (path.isAbsolute(expanded)) return path.resolve(expanded);
    return cwd === undefined ? undefined : path.resolve(cwd, expanded);
  }

  /** Whether a path (its absolute form as written, and where it really lands) is in the state folder. */
  inStateFolder(nominal: string, real: string): boolean {
    return (
      isInside(this.stateDir, nominal) ||
      isInside(this.stateReal, nominal) ||
      isInside(this.stateReal, real) ||
      nominal.split('/').includes('.task-orchestrator')
    );
  }

  /** The rules that may match a program (mkfs.ext4 counts as mkfs). */
  rulesFor(name: string): CompiledRule[] {
    const stem = name.includes('.') ? name.slice(0, name.indexOf('.')) : undefined;
    const own = this.byProgram.get(name) ?? [];
    const family = stem ? (this.byProgram.get(stem) ?? []).filter((r) => !own.includes(r)) : [];
    return [...own, ...family, ...this.general];
  }

  /** Whether text names the state folder by its absolute path. */
  mentionsStateDir(text: string): boolean {
    return text.includes(this.stateDir) || text.includes(this.stateReal);
  }

  /** The root, a system folder, home or a folder above it, the project or a folder above it. */
  isCritical(real: string): boolean {
    if (SYSTEM_FOLDERS.has(real)) return true;
    for (const keep of [this.home, this.projectReal, this.projectDir]) if (isInside(real, keep)) return true;
    return false;
  }

  /** Whether `word` (a path) is this package's CLI entry. */
  isCliPath(word: string, cwd: string | undefined): boolean {
    if (!this.cliPath || !word.includes('/')) return false;
    const resolved = this.resolve(word, cwd);
    if (resolved === undefined) return word.endsWith('cli.js');
    return resolved === this.cliPath || realPathSync(resolved) === this.cliReal;
  }

  /** Whether the project has `bin` installed (node_modules/.bin), from cwd up to the project root. */
  localBin(bin: string, cwd: string | undefined): boolean {
    if (!/^[A-Za-z0-9._-]+$/.test(bin)) return false;
    let dir = cwd ?? this.projectDir;
    for (let hops = 0; hops < 20; hops++) {
      if (existsSync(path.join(dir, 'node_modules', '.bin', bin))) return true;
      if (dir === this.projectDir || dir === this.projectReal) break;
      const parent = path.dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
    return false;
  }
}

function readRules(file: string, required: boolean): RulesFile {
  let text: string;
  try {
    // Small files, read once per process: synchronously (no thread-pool round trip per file).
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if (!required && (error as NodeJS.ErrnoException).code === 'ENOENT')
      return { rules: [], generatedFolders: [] };
    throw new AppError('CONFIG_INVALID', `Cannot read operation rules ${file}`, { cause: error });
  }
  let rules: RulesFile | string;
  try {
    rules = checkRules(JSON.parse(text));
  } catch {
    rules = 'not valid JSON';
  }
  if (typeof rules === 'string')
    throw new AppError('CONFIG_INVALID', `Invalid operation rules in ${file}: ${rules}`, {
      hint: 'Each rule needs id, verdict (BLOCKED or REQUIRES_APPROVAL), reason and a command, pipeline, sql, argsPattern or pattern',
    });
  for (const r of rules.rules) {
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
