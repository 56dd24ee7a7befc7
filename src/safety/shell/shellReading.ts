/**
 * What a Bash command line runs, read from its syntax tree the way Bash would run it: every simple
 * command wherever it stands (lists, pipelines, subshells, groups, if/for/while/case bodies,
 * function bodies, command and process substitutions, here-documents that feed a pipeline), with
 * each word as Bash would see it after quote removal (escapes, '...', "...", $'...' decoded).
 * What Bash only decides when it runs (variables that are not set in the text itself, globs,
 * brace expansion, command substitution, arithmetic) is marked, never guessed: the classifier
 * asks a person about it. A variable set earlier in the same text to a literal is followed
 * (`X=rm; $X -rf ~` reads as `rm -rf ~`), and so is the working folder through `cd`.
 *
 * Linear in the size of the text: one walk of the tree, no backtracking pattern over user text.
 */
import path from 'node:path';
import type { SyntaxNode } from './bashParser.js';

export interface ShellArg {
  /** The word after quote removal and the expansions known when read; undefined when only Bash knows. */
  text: string | undefined;
  /** True when nothing in it is decided at run time. */
  literal: boolean;
  /** What Bash decides at run time in it (for the reason shown to the person). */
  dynamic?: string;
  /** Unquoted glob characters: `text` is a pattern that Bash expands against the file system. */
  glob?: boolean;
}

export type StdinSource =
  | { kind: 'inherited' }
  | { kind: 'pipe'; from: ShellCommand[] }
  | { kind: 'heredoc' | 'herestring'; body: ShellArg }
  | { kind: 'file'; path: ShellArg; cwd: string | undefined };

export interface ShellRedirect {
  /** write (>, >|, &>, >& file), append (>>, &>>), read (<), readwrite (<>). */
  mode: 'write' | 'append' | 'read' | 'readwrite';
  target: ShellArg;
  /** The working folder the target is relative to (undefined: unknown). */
  cwd: string | undefined;
}

export interface ShellCommand {
  /** The program and its arguments; empty for a redirection alone (`> file`). */
  argv: ShellArg[];
  /** Assignments before the program (`X=1 cmd`): only for its environment. */
  assignments: Array<{ name: string; value: ShellArg }>;
  redirects: ShellRedirect[];
  stdin: StdinSource;
  /** The working folder when it starts; undefined after a `cd` to somewhere not known. */
  cwd: string | undefined;
  /** Its source text, cut, for messages. */
  source: string;
  /** It runs in the background (`&`) or inside a pipeline. */
  detached: boolean;
  /** The function whose body holds it, if any. */
  inFunction?: string;
}

export interface ShellProblem {
  rule: string;
  reason: string;
}

export interface ShellReading {
  commands: ShellCommand[];
  problems: ShellProblem[];
  /** Names of the functions the text defines. */
  functions: string[];
  /** Names of the variables the text sets, exports or unsets anywhere. */
  assigned: string[];
}

export interface ReadOptions {
  /** Where the command line starts (undefined: not known). */
  cwd: string | undefined;
  /** The user's home folder (for ~ and $HOME). */
  home: string;
}

const MAX_DEPTH = 120;
const MAX_BRACE_WORDS = 64;
const SOURCE_CHARS = 300;

interface Scope {
  cwd: string | undefined;
  /** Variables set in the text: their value, or undefined when set to something not known. */
  vars: Map<string, string | undefined>;
  /** IFS was changed: how unquoted expansions split is not known. */
  ifsChanged: boolean;
}

const cloneScope = (s: Scope): Scope => ({ cwd: s.cwd, vars: new Map(s.vars), ifsChanged: s.ifsChanged });

/** After a branch that may or may not have run: whatever it changed is no longer known. */
function mergeUnknown(into: Scope, branch: Scope): void {
  if (branch.cwd !== into.cwd) into.cwd = undefined;
  for (const [name, value] of branch.vars) if (into.vars.get(name) !== value) into.vars.set(name, undefined);
  if (branch.ifsChanged) into.ifsChanged = true;
}

/** One piece of a word as read: its text (undefined: unknown), and how Bash treats it. */
interface Piece {
  text: string | undefined;
  /** Came from a quote: no globbing, no splitting, no braces. */
  quoted: boolean;
  glob: boolean;
  /** Unquoted `{` that may start a brace expansion. */
  brace: boolean;
  /** An unquoted expansion whose value Bash splits into words. */
  split: boolean;
  dynamic?: string;
}

const GLOB_CHARS = new Set(['*', '?', '[']);

/** An unquoted word's text: backslashes removed; which characters glob or start braces. */
function unquoted(raw: string): Piece {
  let text = '';
  let glob = false;
  let brace = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === '\\') {
      if (raw[i + 1] === '\n') i++;
      else if (i + 1 < raw.length) text += raw[++i];
      continue;
    }
    if (GLOB_CHARS.has(c)) glob = true;
    if (c === '{') brace = true;
    text += c;
  }
  return { text, quoted: false, glob, brace, split: false };
}

/** The body of "..." text between expansions: \\ \" \$ \` and a newline are escapes there. */
function doubleQuoted(raw: string): string {
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === '\\' && i + 1 < raw.length && '\\"$`\n'.includes(raw[i + 1]!)) {
      if (raw[i + 1] !== '\n') out += raw[i + 1];
      i++;
    } else out += c;
  }
  return out;
}

/** $'...' as Bash decodes it. */
export function decodeAnsiC(body: string): string {
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\' || i + 1 >= body.length) {
      out += c;
      continue;
    }
    const n = body[++i]!;
    const simple: Record<string, string> = {
      a: '\x07',
      b: '\b',
      e: '\x1b',
      E: '\x1b',
      f: '\f',
      n: '\n',
      r: '\r',
      t: '\t',
      v: '\v',
      '\\': '\\',
      "'": "'",
      '"': '"',
      '?': '?',
    };
    if (n in simple) out += simple[n];
    else if (n === 'x' || n === 'u' || n === 'U') {
      const max = n === 'x' ? 2 : n === 'u' ? 4 : 8;
      let hex = '';
      while (hex.length < max && /[0-9a-fA-F]/.test(body[i + 1] ?? '')) hex += body[++i];
      if (hex) out += String.fromCodePoint(Math.min(parseInt(hex, 16), 0x10ffff));
      else out += `\\${n}`;
    } else if (n >= '0' && n <= '7') {
      let oct = n;
      while (oct.length < 3 && /[0-7]/.test(body[i + 1] ?? '')) oct += body[++i];
      out += String.fromCharCode(parseInt(oct, 8) & 0xff);
    } else if (n === 'c' && i + 1 < body.length) {
      out += String.fromCharCode(body[++i]!.toUpperCase().charCodeAt(0) & 0x1f);
    } else out += `\\${n}`;
  }
  return out;
}

/** Bash's brace expansion of one word (a,b lists and 1..5 ranges), at most `max` words; undefined if not one. */
export function expandBraces(word: string, max = MAX_BRACE_WORDS): string[] | undefined {
  // The first { with a matching } that holds a top-level comma or a range.
  for (let open = word.indexOf('{'); open >= 0; open = word.indexOf('{', open + 1)) {
    let depth = 0;
    const commas: number[] = [];
    let close = -1;
    for (let i = open; i < word.length; i++) {
      const c = word[i];
      if (c === '{') depth++;
      else if (c === '}') {
        depth--;
        if (depth === 0) {
          close = i;
          break;
        }
      } else if (c === ',' && depth === 1) commas.push(i);
    }
    if (close < 0) return undefined;
    const head = word.slice(0, open);
    const tail = word.slice(close + 1);
    const inner = word.slice(open + 1, close);
    let options: string[] | undefined;
    if (commas.length > 0) {
      options = [];
      let from = open + 1;
      for (const comma of [...commas, close]) {
        options.push(word.slice(from, comma));
        from = comma + 1;
      }
    } else {
      const range = /^(-?\d{1,6})\.\.(-?\d{1,6})$/.exec(inner) ?? /^([a-zA-Z])\.\.([a-zA-Z])$/.exec(inner);
      if (range) {
        const numeric = /\d/.test(range[1]!);
        const a = numeric ? Number(range[1]) : range[1]!.charCodeAt(0);
        const b = numeric ? Number(range[2]) : range[2]!.charCodeAt(0);
        if (Math.abs(b - a) + 1 > max) return undefined;
        options = [];
        for (let v = a; a <= b ? v <= b : v >= b; v += a <= b ? 1 : -1)
          options.push(numeric ? String(v) : String.fromCharCode(v));
      }
    }
    if (!options) continue;
    const out: string[] = [];
    for (const option of options) {
      const words = expandBraces(`${head}${option}${tail}`, max) ?? [`${head}${option}${tail}`];
      out.push(...words);
      if (out.length > max) return undefined;
    }
    return out;
  }
  return undefined;
}

/** Reads a parsed command line. */
export function readShell(root: SyntaxNode, options: ReadOptions): ShellReading {
  const reader = new Reader(options);
  reader.statements(root, { cwd: options.cwd, vars: new Map(), ifsChanged: false }, { kind: 'inherited' }, 0);
  return {
    commands: reader.commands,
    problems: reader.problems,
    functions: [...reader.functions],
    assigned: [...reader.assigned],
  };
}

class Reader {
  readonly commands: ShellCommand[] = [];
  readonly problems: ShellProblem[] = [];
  readonly functions = new Set<string>();
  readonly assigned = new Set<string>();
  private readonly seen = new Set<string>();
  private inFunction: string | undefined;

  constructor(private readonly options: ReadOptions) {}

  private problem(rule: string, reason: string): void {
    const key = `${rule}:${reason}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.problems.push({ rule, reason });
  }

  /** Past MAX_DEPTH nothing more is read (and the person is asked). */
  private tooDeep(depth: number): boolean {
    if (depth <= MAX_DEPTH) return false;
    this.problem('too-deep', 'the command nests too deep to read');
    return true;
  }

  statements(node: SyntaxNode, scope: Scope, stdin: StdinSource, depth: number): ShellCommand[] {
    const made: ShellCommand[] = [];
    for (const child of node.namedChildren) {
      if (!child) continue;
      made.push(...this.statement(child, scope, stdin, depth + 1, false));
    }
    return made;
  }

  /** One statement; returns the simple commands it holds (for pipes that read their output). */
  statement(
    node: SyntaxNode,
    scope: Scope,
    stdin: StdinSource,
    depth: number,
    detached: boolean,
  ): ShellCommand[] {
    if (this.tooDeep(depth)) return [];
    switch (node.type) {
      case 'command':
        return [this.command(node, scope, stdin, [], detached, depth)];
      case 'redirected_statement':
        return this.redirected(node, scope, stdin, depth, detached);
      case 'pipeline':
        return this.pipeline(node, scope, stdin, depth);
      case 'list':
        return this.list(node, scope, stdin, depth, detached);
      case 'negated_command':
        return this.statements(node, scope, stdin, depth);
      case 'subshell':
        return this.statements(node, cloneScope(scope), stdin, depth);
      case 'compound_statement':
      case 'do_group':
        return this.statements(node, scope, stdin, depth);
      case 'if_statement':
      case 'while_statement':
      case 'case_statement':
      case 'for_statement':
      case 'c_style_for_statement':
        return this.branching(node, scope, stdin, depth);
      case 'function_definition':
        return this.functionDefinition(node, scope, depth);
      case 'variable_assignment':
        this.assign(node, scope, scope, depth);
        return [];
      case 'variable_assignments':
      case 'declaration_command':
        this.declaration(node, scope, depth);
        return [];
      case 'unset_command':
        for (const child of node.namedChildren)
          if (child) {
            // unset NAME (or unset -v NAME): a marker the program reads is gone after it.
            if (child.type !== 'variable_name' && child.text.startsWith('-')) continue;
            this.assigned.add(child.text);
            scope.vars.set(child.text, undefined);
          }
        return [];
      case 'comment':
      case 'heredoc_body':
      case 'heredoc_start':
      case 'heredoc_end':
        return [];
      case 'ERROR':
        this.problem('unparsable', 'the command is not valid shell syntax as read');
        return this.anywhere(node, scope, depth);
      default:
        return this.anywhere(node, scope, depth);
    }
  }

  /** Commands inside anything else (test expressions, arithmetic, array values): substitutions. */
  private anywhere(node: SyntaxNode, scope: Scope, depth: number): ShellCommand[] {
    if (node.isMissing) this.problem('unparsable', 'the command is not complete shell syntax');
    if (this.tooDeep(depth)) return [];
    const made: ShellCommand[] = [];
    for (const child of node.namedChildren) {
      if (!child) continue;
      if (child.type === 'command_substitution' || child.type === 'process_substitution')
        this.substitution(child, scope, depth + 1);
      else if (
        [
          'command',
          'redirected_statement',
          'pipeline',
          'list',
          'subshell',
          'compound_statement',
          'negated_command',
        ].includes(child.type)
      )
        made.push(...this.statement(child, scope, { kind: 'inherited' }, depth + 1, false));
      else made.push(...this.anywhere(child, scope, depth + 1));
    }
    return made;
  }

  private list(
    node: SyntaxNode,
    scope: Scope,
    stdin: StdinSource,
    depth: number,
    detached: boolean,
  ): ShellCommand[] {
    const parts = node.namedChildren.filter((c): c is SyntaxNode => c !== null && c.type !== 'comment');
    const operator = node.children.find((c) => c && (c.type === '&&' || c.type === '||'))?.type;
    const [left, right] = parts;
    const made: ShellCommand[] = [];
    if (left) made.push(...this.statement(left, scope, stdin, depth + 1, detached));
    if (right) {
      if (operator === '||') {
        const branch = cloneScope(scope);
        made.push(...this.statement(right, branch, stdin, depth + 1, detached));
        mergeUnknown(scope, branch);
      } else made.push(...this.statement(right, scope, stdin, depth + 1, detached));
    }
    for (const extra of parts.slice(2))
      made.push(...this.statement(extra, scope, stdin, depth + 1, detached));
    return made;
  }

  private pipeline(node: SyntaxNode, scope: Scope, stdin: StdinSource, depth: number): ShellCommand[] {
    let input = stdin;
    const made: ShellCommand[] = [];
    for (const stage of node.namedChildren) {
      if (!stage || stage.type === 'comment') continue;
      // Every stage runs in a subshell of its own: a cd or an assignment there does not outlive it.
      const produced = this.statement(stage, cloneScope(scope), input, depth + 1, true);
      made.push(...produced);
      input = { kind: 'pipe', from: produced };
    }
    return made;
  }

  private branching(node: SyntaxNode, scope: Scope, stdin: StdinSource, depth: number): ShellCommand[] {
    const made: ShellCommand[] = [];
    const branch = cloneScope(scope);
    for (const { node: child, field } of fieldChildren(node)) {
      if (field === 'condition' && node.type === 'if_statement') {
        // The condition always runs first, in this shell.
        made.push(...this.statement(child, scope, stdin, depth + 1, false));
        continue;
      }
      if (field === 'variable') {
        branch.vars.set(child.text, undefined);
        continue;
      }
      if (field === 'value') {
        // for x in WORDS / case WORD in: the words are read for what they run.
        this.args(child, branch, depth + 1);
        continue;
      }
      if (child.type === 'case_item' || child.type === 'elif_clause' || child.type === 'else_clause') {
        const inner = cloneScope(branch);
        for (const { node: grand, field: grandField } of fieldChildren(child)) {
          if (grandField === 'value') this.args(grand, inner, depth + 1);
          else made.push(...this.statement(grand, inner, stdin, depth + 2, false));
        }
        mergeUnknown(branch, inner);
        continue;
      }
      made.push(...this.statement(child, branch, stdin, depth + 1, false));
    }
    mergeUnknown(scope, branch);
    return made;
  }

  private functionDefinition(node: SyntaxNode, scope: Scope, depth: number): ShellCommand[] {
    const name = node.childForFieldName('name')?.text ?? '';
    this.functions.add(name);
    const outer = this.inFunction;
    this.inFunction = name;
    const body = node.childForFieldName('body');
    const made = body ? this.statement(body, cloneScope(scope), { kind: 'inherited' }, depth + 1, false) : [];
    this.inFunction = outer;
    return made;
  }

  private assign(node: SyntaxNode, target: Scope, readIn: Scope, depth: number): void {
    const name = node.childForFieldName('name')?.text ?? '';
    const valueNode = node.childForFieldName('value');
    let value: string | undefined = '';
    if (valueNode) {
      if (valueNode.type === 'array') {
        this.anywhere(valueNode, readIn, depth + 1);
        value = undefined;
      } else {
        const read = this.word(valueNode, readIn, depth + 1, true);
        value = read.text;
      }
    }
    // Appending (X+=y) or an indexed element: no longer a known plain value.
    if (node.children.some((c) => c?.type === '+=') || node.childForFieldName('name')?.type === 'subscript')
      value = undefined;
    if (name === 'IFS') target.ifsChanged = true;
    this.assigned.add(name);
    target.vars.set(name, value);
  }

  private declaration(node: SyntaxNode, scope: Scope, depth: number): void {
    for (const child of node.namedChildren) {
      if (!child) continue;
      if (child.type === 'variable_assignment') this.assign(child, scope, scope, depth + 1);
      else if (child.type === 'variable_name') this.assigned.add(child.text);
      else this.args(child, scope, depth + 1);
    }
  }

  private redirected(
    node: SyntaxNode,
    scope: Scope,
    stdin: StdinSource,
    depth: number,
    detached: boolean,
  ): ShellCommand[] {
    const body = node.childForFieldName('body');
    const afterBody: SyntaxNode[] = [];
    let made: ShellCommand[];
    if (body && (body.type === 'list' || body.type === 'pipeline')) {
      // tree-sitter-bash hangs `a && b > f` and `a | b > f` on the whole list; Bash gives the
      // redirections to the last command only, in the folder it runs in (after a `cd` in `a`).
      made = this.statement(body, scope, stdin, depth + 1, detached);
      const last = made.at(-1);
      const redirects: ShellRedirect[] = [];
      let input: StdinSource | undefined;
      for (const child of node.childrenForFieldName('redirect')) {
        if (!child) continue;
        const got = this.redirect(child, scope, depth + 1, afterBody);
        if (got.redirect) redirects.push(got.redirect);
        if (got.stdin) input = got.stdin;
      }
      if (last) {
        last.redirects.push(...redirects);
        if (input) last.stdin = input;
      } else made = this.holder(node, scope, redirects, input ?? stdin);
    } else {
      const redirects: ShellRedirect[] = [];
      let input = stdin;
      for (const child of node.childrenForFieldName('redirect')) {
        if (!child) continue;
        const got = this.redirect(child, scope, depth + 1, afterBody);
        if (got.redirect) redirects.push(got.redirect);
        if (got.stdin) input = got.stdin;
      }
      if (body?.type === 'command') made = [this.command(body, scope, input, redirects, detached, depth + 1)];
      else {
        // Redirections of a group or a loop: the files are written whatever runs inside.
        const holder = this.holder(node, scope, redirects, input);
        made = [...(body ? this.statement(body, scope, input, depth + 1, detached) : []), ...holder];
      }
    }
    // `cat <<EOF | sh`: the pipeline written after a here-document's start reads that command's output.
    let pipeInput: StdinSource = { kind: 'pipe', from: [...made] };
    for (const rest of afterBody) {
      const produced = this.statement(rest, cloneScope(scope), pipeInput, depth + 1, true);
      made.push(...produced);
      pipeInput = { kind: 'pipe', from: produced };
    }
    return made;
  }

  /** A command with no program that carries redirections (`> file`, `{ ...; } > file`). */
  private holder(
    node: SyntaxNode,
    scope: Scope,
    redirects: ShellRedirect[],
    stdin: StdinSource,
  ): ShellCommand[] {
    if (redirects.length === 0) return [];
    const holder: ShellCommand = {
      argv: [],
      assignments: [],
      redirects,
      stdin,
      cwd: scope.cwd,
      source: node.text.slice(0, SOURCE_CHARS),
      detached: false,
      ...(this.inFunction !== undefined ? { inFunction: this.inFunction } : {}),
    };
    this.commands.push(holder);
    return [holder];
  }

  /** One redirection: a file written or read, or the standard input it gives. */
  private redirect(
    node: SyntaxNode,
    scope: Scope,
    depth: number,
    afterBody: SyntaxNode[],
  ): { redirect?: ShellRedirect; stdin?: StdinSource } {
    if (node.type === 'herestring_redirect') {
      const word = node.namedChildren.find((c) => c && c.type !== 'file_descriptor');
      const body = word ? this.word(word, scope, depth + 1, true) : literalArg('');
      return {
        stdin: {
          kind: 'herestring',
          body: { ...body, text: body.text === undefined ? undefined : `${body.text}\n` },
        },
      };
    }
    if (node.type === 'heredoc_redirect') {
      const start = node.namedChildren.find((c) => c?.type === 'heredoc_start')?.text ?? '';
      const quotedBody = /['"\\]/.test(start);
      let body: ShellArg = literalArg('');
      let redirect: ShellRedirect | undefined;
      for (const child of node.namedChildren) {
        if (!child) continue;
        if (child.type === 'heredoc_body') body = this.heredocBody(child, scope, depth + 1, quotedBody);
        else if (child.type === 'file_redirect')
          redirect = this.redirect(child, scope, depth + 1, afterBody).redirect;
        else if (!['heredoc_start', 'heredoc_end', 'file_descriptor'].includes(child.type))
          afterBody.push(child);
      }
      return { stdin: { kind: 'heredoc', body }, ...(redirect ? { redirect } : {}) };
    }
    if (node.type !== 'file_redirect') {
      this.anywhere(node, scope, depth + 1);
      return {};
    }
    const operator = node.children.find((c) => c && !c.isNamed)?.type ?? '';
    const fdText = node.children.find((c) => c?.type === 'file_descriptor')?.text;
    const destination = node.childForFieldName('destination');
    if (!destination) return {};
    const target = this.word(destination, scope, depth + 1, true);
    if (operator === '>&' || operator === '<&') {
      // fd duplication (2>&1, >&-) touches no file; `>& file` writes one.
      if (target.literal && /^(\d+|-)$/.test(target.text ?? '')) return {};
      if (operator === '<&') return {};
    }
    const mode: ShellRedirect['mode'] =
      operator === '>>' || operator === '&>>'
        ? 'append'
        : operator === '<'
          ? 'read'
          : operator === '<>'
            ? 'readwrite'
            : 'write';
    const redirect: ShellRedirect = { mode, target, cwd: scope.cwd };
    if (mode === 'read' && (fdText === undefined || fdText === '0'))
      return { redirect, stdin: { kind: 'file', path: target, cwd: scope.cwd } };
    return { redirect };
  }

  private heredocBody(node: SyntaxNode, scope: Scope, depth: number, quoted: boolean): ShellArg {
    if (quoted) return literalArg(node.text);
    let text: string | undefined = '';
    let dynamic: string | undefined;
    let cursor = node.startIndex;
    const whole = node.text;
    for (const child of node.namedChildren) {
      if (!child) continue;
      if (child.type === 'heredoc_content') continue;
      // Text between expansions is taken from the body itself.
      const before = whole.slice(cursor - node.startIndex, child.startIndex - node.startIndex);
      if (text !== undefined) text += doubleQuoted(before);
      const piece = this.piece(child, scope, depth + 1, true);
      if (piece.text === undefined) {
        text = undefined;
        dynamic ??= piece.dynamic;
      } else if (text !== undefined) text += piece.text;
      cursor = child.endIndex;
    }
    if (text !== undefined) text += doubleQuoted(whole.slice(cursor - node.startIndex));
    return text === undefined
      ? { text: undefined, literal: false, dynamic: dynamic ?? 'an expansion in the here-document' }
      : { text, literal: dynamic === undefined, ...(dynamic ? { dynamic } : {}) };
  }

  private command(
    node: SyntaxNode,
    scope: Scope,
    stdin: StdinSource,
    outerRedirects: ShellRedirect[],
    detached: boolean,
    depth: number,
  ): ShellCommand {
    const assignments: ShellCommand['assignments'] = [];
    const redirects = [...outerRedirects];
    let input = stdin;
    const argv: ShellArg[] = [];
    const after: SyntaxNode[] = [];
    for (const { node: child, field } of fieldChildren(node)) {
      if (child.type === 'variable_assignment' && field !== 'argument') {
        const name = child.childForFieldName('name')?.text ?? '';
        const valueNode = child.childForFieldName('value');
        this.assigned.add(name);
        assignments.push({
          name,
          value: valueNode ? this.word(valueNode, scope, depth + 1, true) : literalArg(''),
        });
      } else if (field === 'name') {
        const word = child.namedChildren[0] ?? child;
        argv.push(...this.words(word, scope, depth + 1));
      } else if (field === 'redirect') {
        const got = this.redirect(child, scope, depth + 1, after);
        if (got.redirect) redirects.push(got.redirect);
        if (got.stdin) input = got.stdin;
      } else if (field === 'argument') argv.push(...this.words(child, scope, depth + 1));
      else this.anywhere(child, scope, depth + 1);
    }
    const command: ShellCommand = {
      argv,
      assignments,
      redirects,
      stdin: input,
      cwd: scope.cwd,
      source: node.text.slice(0, SOURCE_CHARS),
      detached,
      ...(this.inFunction !== undefined ? { inFunction: this.inFunction } : {}),
    };
    this.commands.push(command);
    this.effects(command, scope);
    return command;
  }

  /** What a builtin changes for the commands after it: the folder (cd), variables (read, mapfile). */
  private effects(command: ShellCommand, scope: Scope): void {
    const [program, ...args] = command.argv;
    const name = program?.literal ? program.text : undefined;
    if (name === 'cd' || name === 'pushd') {
      const operands = args.filter((a) => !(a.literal && /^-[LPe@]+$/.test(a.text ?? '')));
      const target = operands[0];
      if (!target) scope.cwd = name === 'cd' ? this.options.home : undefined;
      else if (!target.literal || target.text === undefined || target.text === '-') scope.cwd = undefined;
      else
        scope.cwd =
          scope.cwd === undefined && !path.isAbsolute(target.text)
            ? undefined
            : path.resolve(scope.cwd ?? '/', expandTilde(target.text, this.options.home));
    } else if (name === 'popd') scope.cwd = undefined;
    else if (name === 'read' || name === 'mapfile' || name === 'readarray' || name === 'getopts') {
      for (const a of args)
        if (a.literal && /^[A-Za-z_]\w*$/.test(a.text ?? '')) scope.vars.set(a.text!, undefined);
    } else if (name === 'printf') {
      const v = args.findIndex((a) => a.text === '-v');
      if (v >= 0 && args[v + 1]?.text) scope.vars.set(args[v + 1]!.text!, undefined);
    }
  }

  /** Words of a node as Bash makes them (a word may become several, or stay unknown). */
  private words(node: SyntaxNode, scope: Scope, depth: number): ShellArg[] {
    const pieces = this.pieces(node, scope, depth);
    return wordsFrom(pieces, this.options.home, scope.ifsChanged);
  }

  /** args(...) for nodes that are only read for the commands inside them. */
  private args(node: SyntaxNode, scope: Scope, depth: number): void {
    this.pieces(node, scope, depth);
  }

  /** One word where Bash does not split or glob (assignment values, redirection targets, here-strings). */
  private word(node: SyntaxNode, scope: Scope, depth: number, _noSplit: boolean): ShellArg {
    const pieces = this.pieces(node, scope, depth).map((p) => ({ ...p, split: false }));
    const words = wordsFrom(pieces, this.options.home, scope.ifsChanged);
    if (words.length === 1) return words[0]!;
    return { text: undefined, literal: false, dynamic: 'brace expansion' };
  }

  private pieces(node: SyntaxNode, scope: Scope, depth: number): Piece[] {
    if (node.type === 'concatenation') {
      const out: Piece[] = [];
      for (const child of node.namedChildren) if (child) out.push(this.piece(child, scope, depth + 1, false));
      // Text between the parts that the grammar left unnamed ({ } around braces, for example).
      return withGaps(node, out);
    }
    return [this.piece(node, scope, depth, false)];
  }

  private piece(node: SyntaxNode, scope: Scope, depth: number, inQuotes: boolean): Piece {
    const unknown = (dynamic: string): Piece => ({
      text: undefined,
      quoted: inQuotes,
      glob: false,
      brace: false,
      split: !inQuotes,
      dynamic,
    });
    if (this.tooDeep(depth)) return unknown('an expansion nested too deep to read');
    switch (node.type) {
      case 'word':
      case 'number':
        return inQuotes
          ? { text: node.text, quoted: true, glob: false, brace: false, split: false }
          : unquoted(node.text);
      case 'raw_string':
        return { text: node.text.slice(1, -1), quoted: true, glob: false, brace: false, split: false };
      case 'ansi_c_string':
        return {
          text: decodeAnsiC(node.text.slice(2, -1)),
          quoted: true,
          glob: false,
          brace: false,
          split: false,
        };
      case 'string':
      case 'translated_string':
        return this.quotedString(node, scope, depth);
      case 'simple_expansion':
      case 'expansion': {
        const value = this.expansion(node, scope, depth);
        if (value === undefined) return unknown(`the variable ${node.text.slice(0, 40)}`);
        return {
          text: value,
          quoted: inQuotes,
          glob: !inQuotes && [...value].some((c) => GLOB_CHARS.has(c)),
          brace: false,
          split: !inQuotes,
          dynamic: `the variable ${node.text.slice(0, 40)}`,
        };
      }
      case 'command_substitution': {
        const value = this.substitution(node, scope, depth + 1);
        if (value === undefined) return unknown('command substitution');
        return {
          text: value,
          quoted: inQuotes,
          glob: false,
          brace: false,
          split: !inQuotes,
          dynamic: 'command substitution',
        };
      }
      case 'process_substitution':
        this.substitution(node, scope, depth + 1);
        return { ...unknown('process substitution'), split: false };
      case 'arithmetic_expansion':
        this.anywhere(node, scope, depth + 1);
        return unknown('arithmetic expansion');
      case 'brace_expression':
        return { text: node.text, quoted: false, glob: false, brace: true, split: false };
      case 'concatenation': {
        const parts = this.pieces(node, scope, depth + 1);
        return joinPieces(parts);
      }
      default:
        this.anywhere(node, scope, depth + 1);
        return unknown(`${node.type.replace(/_/g, ' ')}`);
    }
  }

  private quotedString(node: SyntaxNode, scope: Scope, depth: number): Piece {
    const inner: Piece[] = [];
    let cursor = node.startIndex + (node.type === 'translated_string' ? 2 : 1);
    const end = node.endIndex - 1;
    const source = node.text;
    const at = (i: number) => i - node.startIndex;
    const children =
      node.type === 'translated_string' ? (node.namedChildren[0]?.namedChildren ?? []) : node.namedChildren;
    for (const child of children) {
      if (!child) continue;
      if (child.startIndex > cursor)
        inner.push({
          text: doubleQuoted(source.slice(at(cursor), at(child.startIndex))),
          quoted: true,
          glob: false,
          brace: false,
          split: false,
        });
      if (child.type === 'string_content')
        inner.push({ text: doubleQuoted(child.text), quoted: true, glob: false, brace: false, split: false });
      else inner.push(this.piece(child, scope, depth + 1, true));
      cursor = child.endIndex;
    }
    if (end > cursor)
      inner.push({
        text: doubleQuoted(source.slice(at(cursor), at(end))),
        quoted: true,
        glob: false,
        brace: false,
        split: false,
      });
    const joined = joinPieces(inner);
    return { ...joined, quoted: true, glob: false, brace: false, split: false };
  }

  /** $X, ${X}, ${X:-y}: the value when the text set it (or it is HOME/PWD), else undefined. */
  private expansion(node: SyntaxNode, scope: Scope, depth: number): string | undefined {
    const named = node.namedChildren.filter((c): c is SyntaxNode => c !== null);
    const name = named[0];
    if (!name || (name.type !== 'variable_name' && name.type !== 'special_variable_name')) {
      this.anywhere(node, scope, depth + 1);
      return undefined;
    }
    const value = this.lookup(name.text, scope);
    if (named.length === 1 && (node.type === 'simple_expansion' || node.text === `\${${name.text}}`))
      return value;
    // ${X:-default} and friends: the default may hold commands; the value is known only when X is set.
    for (const rest of named.slice(1)) this.pieces(rest, scope, depth + 1);
    const operator = node.children.find((c) => c && !c.isNamed && c.type !== '${' && c.type !== '}')?.type;
    if ((operator === ':-' || operator === '-') && value !== undefined && value !== '') return value;
    return undefined;
  }

  private lookup(name: string, scope: Scope): string | undefined {
    if (scope.vars.has(name)) return scope.vars.get(name);
    if (name === 'HOME') return this.options.home;
    if (name === 'PWD') return scope.cwd;
    return undefined;
  }

  /**
   * The commands of $(...), `...` or <(...), read in a copy of the scope. Its value when it is an
   * echo or printf of literal words (what `$(echo rm)` runs is then known); else undefined.
   */
  private substitution(node: SyntaxNode, scope: Scope, depth: number): string | undefined {
    const before = this.commands.length;
    this.statements(node, cloneScope(scope), { kind: 'inherited' }, depth + 1);
    const inner = this.commands.slice(before);
    if (node.type !== 'command_substitution' || inner.length !== 1) return undefined;
    const only = inner[0]!;
    if (only.redirects.length > 0 || only.stdin.kind !== 'inherited') return undefined;
    const words = only.argv;
    if (!words.every((w) => w.literal && w.text !== undefined)) return undefined;
    const [program, ...args] = words.map((w) => w.text!);
    if (program === 'echo' && !args.some((a) => a.startsWith('-'))) return args.join(' ');
    if (program === 'printf' && args.length === 1 && !/[%\\]/.test(args[0]!)) return args[0];
    return undefined;
  }
}

function literalArg(text: string): ShellArg {
  return { text, literal: true };
}

/** The named children of a node with their field names, in one pass of a tree cursor. */
function fieldChildren(node: SyntaxNode): Array<{ node: SyntaxNode; field: string | null }> {
  const out: Array<{ node: SyntaxNode; field: string | null }> = [];
  const cursor = node.walk();
  try {
    if (cursor.gotoFirstChild())
      do {
        if (cursor.nodeIsNamed)
          out.push({ node: cursor.currentNode, field: cursor.currentFieldName ?? null });
      } while (cursor.gotoNextSibling());
  } finally {
    cursor.delete();
  }
  return out;
}

/** Adds the unnamed text between named parts of a concatenation as plain unquoted pieces. */
function withGaps(node: SyntaxNode, named: Piece[]): Piece[] {
  const out: Piece[] = [];
  let cursor = node.startIndex;
  let k = 0;
  for (const child of node.namedChildren) {
    if (!child) continue;
    if (child.startIndex > cursor)
      out.push(unquoted(node.text.slice(cursor - node.startIndex, child.startIndex - node.startIndex)));
    out.push(named[k++]!);
    cursor = child.endIndex;
  }
  if (node.endIndex > cursor) out.push(unquoted(node.text.slice(cursor - node.startIndex)));
  return out;
}

function joinPieces(pieces: Piece[]): Piece {
  let text: string | undefined = '';
  let dynamic: string | undefined;
  for (const p of pieces) {
    if (p.text === undefined) text = undefined;
    else if (text !== undefined) text += p.text;
    dynamic ??= p.dynamic;
  }
  return {
    text,
    quoted: pieces.every((p) => p.quoted),
    glob: pieces.some((p) => p.glob),
    brace: pieces.some((p) => p.brace),
    split: pieces.some((p) => p.split),
    ...(dynamic ? { dynamic } : {}),
  };
}

function expandTilde(text: string, home: string): string {
  if (text === '~') return home;
  if (text.startsWith('~/')) return path.join(home, text.slice(2));
  return text;
}

/** The words Bash makes of a word's pieces: tilde, braces, splitting of unquoted expansions, globs. */
function wordsFrom(pieces: Piece[], home: string, ifsChanged: boolean): ShellArg[] {
  const joined = joinPieces(pieces);
  const first = pieces[0];
  let text = joined.text;
  // ~ and ~/ at the start of an unquoted word: the home folder. ~user and ~+ are not followed.
  if (text !== undefined && first && !first.quoted && first.text?.startsWith('~')) {
    const head = first.text.split('/')[0]!;
    if (head === '~') text = `${home}${text.slice(1)}`;
    else return [{ text: undefined, literal: false, dynamic: `${head} (another user's home)` }];
  }
  if (text === undefined)
    return [{ text: undefined, literal: false, dynamic: joined.dynamic ?? 'an expansion' }];
  const dynamicParts = pieces.filter((p) => p.dynamic !== undefined);
  let words: string[] = [text];
  let dynamic = dynamicParts[0]?.dynamic;
  if (joined.brace && pieces.some((p) => p.brace && !p.quoted)) {
    const expanded = expandBraces(text);
    if (expanded && expanded.length > 1) {
      words = expanded;
      dynamic ??= 'brace expansion';
    } else if (expanded === undefined && /\{[^}]*(,|\.\.)[^}]*\}/.test(text))
      return [{ text: undefined, literal: false, dynamic: 'brace expansion' }];
  }
  if (joined.split && dynamicParts.some((p) => p.split)) {
    if (ifsChanged)
      return [{ text: undefined, literal: false, dynamic: 'word splitting with a changed IFS' }];
    words = words.flatMap((w) => w.split(/[ \t\n]+/).filter(Boolean));
    if (words.length === 0) return [];
  }
  const glob = pieces.some((p) => p.glob && !p.quoted);
  return words.map((w) => ({
    text: w,
    literal: dynamic === undefined && !glob,
    ...(dynamic !== undefined ? { dynamic } : glob ? { dynamic: 'a glob pattern' } : {}),
    ...(glob ? { glob: true } : {}),
  }));
}

/**
 * The top-level pieces of a command line that did not parse: split at ; && || | & and newlines
 * outside quotes, substitutions and brackets. Each piece is read again on its own, so a command
 * the parser could not place (after `[[ -d ~ ]]`, which tree-sitter-bash misreads) is still judged.
 * Linear: one pass, a nesting counter.
 */
export function splitTopLevel(text: string): string[] {
  const pieces: string[] = [];
  let start = 0;
  let depth = 0;
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === '\\' && quote !== "'") i++;
      else if (c === quote) quote = undefined;
      continue;
    }
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === "'" || c === '"' || c === '`') {
      quote = c;
      continue;
    }
    if (c === '(' || c === '{') depth++;
    else if ((c === ')' || c === '}') && depth > 0) depth--;
    else if (depth === 0 && (c === ';' || c === '|' || c === '&' || c === '\n')) {
      pieces.push(text.slice(start, i));
      while (i + 1 < text.length && (text[i + 1] === '|' || text[i + 1] === '&' || text[i + 1] === ';')) i++;
      start = i + 1;
    }
  }
  pieces.push(text.slice(start));
  return pieces.map((p) => p.trim()).filter(Boolean);
}

/** Words that mean something to Bash in a command's first place (or declare variables). */
const NOT_PLAIN_FIRST = new Set([
  'if',
  'then',
  'else',
  'elif',
  'fi',
  'case',
  'esac',
  'for',
  'select',
  'while',
  'until',
  'do',
  'done',
  'function',
  'time',
  'coproc',
  'in',
  '{',
  '}',
  '!',
  '[[',
  ']]',
  'export',
  'declare',
  'typeset',
  'local',
  'readonly',
  'unset',
  'eval',
  'exec',
  'source',
  '.',
  'cd',
  'pushd',
  'popd',
  'alias',
  'set',
  'shopt',
  'trap',
  'let',
  'builtin',
  'command',
]);

/**
 * One word of a plain command: unquoted characters that Bash takes as they are, single-quoted
 * text, and double-quoted text with nothing Bash expands inside. Alternatives start with different
 * characters, so matching is linear.
 */
const PLAIN_WORD = String.raw`(?:[A-Za-z0-9_\-./:@%+,=]|'[^']*'|"[^"$\x60\\!]*")+`;
const PLAIN_LINE = new RegExp(`^${PLAIN_WORD}(?: +${PLAIN_WORD})*$`);
const PLAIN_WORDS = new RegExp(PLAIN_WORD, 'g');

/**
 * The reading of a command line that is one plain command (words Bash takes literally: no
 * expansion, quoting beyond plain quotes, redirection, separator or keyword), made without the
 * grammar; undefined for anything else, which the grammar reads (readShell). Both read such a line
 * alike (a test compares them over every command of the guard's tables).
 */
export function readPlainShell(text: string, options: ReadOptions): ShellReading | undefined {
  const line = text.trim();
  if (!line || line.length > SOURCE_CHARS || /[^ -~]/.test(line) || !PLAIN_LINE.test(line)) return undefined;
  const words = line.match(PLAIN_WORDS) ?? [];
  const first = words[0]!;
  if (first.includes('=') || NOT_PLAIN_FIRST.has(first.replace(/['"]/g, ''))) return undefined;
  const unquote = (w: string) => w.replace(/'([^']*)'|"([^"]*)"/g, (_, a: string, b: string) => a ?? b);
  return {
    commands: [
      {
        argv: words.map((w) => ({ text: unquote(w), literal: true })),
        assignments: [],
        redirects: [],
        stdin: { kind: 'inherited' },
        cwd: options.cwd,
        source: line,
        detached: false,
      },
    ],
    problems: [],
    functions: [],
    assigned: [],
  };
}
