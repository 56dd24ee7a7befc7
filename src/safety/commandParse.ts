/**
 * Reads a command line the way the programs would, for the classifier: a quote-aware shell
 * tokenizer, then per program a canonical form (git's global options removed and checked, long
 * options expanded from the abbreviations git accepts, `+ref` pushes written as --force and `:ref`
 * as --delete; npm's options before the subcommand skipped; wrappers, `sh -c`, `git -c
 * alias.x=!cmd`, `npm exec`, `find -exec` and `xargs` unwrapped so what they run is classified
 * too). What cannot be read with confidence (command substitution, eval, unknown git commands or
 * options, configuration overrides, inline code that runs or deletes things) is reported as
 * opaque: the classifier asks for approval rather than guess.
 */
import path from 'node:path';

export interface Opaque {
  rule: string;
  reason: string;
}

export interface CanonicalForm {
  /** Canonical command lines (lower case; stages of a pipeline joined by " | "). */
  texts: string[];
  /** Constructs that need a human to read them. */
  opaque: Opaque[];
}

/** Splits raw shell text into simple commands (each a list of pipeline stages, each a list of words). */
export function tokenize(raw: string): string[][][] {
  const commands: string[][][] = [];
  let stages: string[][] = [];
  let words: string[] = [];
  let word = '';
  let inWord = false;
  const endWord = () => {
    if (inWord) words.push(word);
    word = '';
    inWord = false;
  };
  const endStage = () => {
    endWord();
    if (words.length) stages.push(words);
    words = [];
  };
  const endCommand = () => {
    endStage();
    if (stages.length) commands.push(stages);
    stages = [];
  };
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === "'") {
      const end = raw.indexOf("'", i + 1);
      word += end < 0 ? raw.slice(i + 1) : raw.slice(i + 1, end);
      inWord = true;
      i = end < 0 ? raw.length : end;
    } else if (c === '"') {
      inWord = true;
      for (i++; i < raw.length && raw[i] !== '"'; i++) {
        if (raw[i] === '\\' && i + 1 < raw.length && '"\\$`\n'.includes(raw[i + 1]!)) i++;
        word += raw[i];
      }
    } else if (c === '\\') {
      if (raw[i + 1] === '\n') i++;
      else if (i + 1 < raw.length) {
        word += raw[i + 1];
        inWord = true;
        i++;
      }
    } else if (/\s/.test(c) && c !== '\n') {
      endWord();
    } else {
      const two = raw.slice(i, i + 2);
      if (two === '&&' || two === '||') {
        endCommand();
        i++;
      } else if (c === '|') {
        endStage();
      } else if (c === ';' || c === '\n' || (c === '&' && raw[i - 1] !== '>' && raw[i + 1] !== '>')) {
        endCommand();
      } else {
        word += c;
        inWord = true;
      }
    }
  }
  endCommand();
  return commands;
}

/** Wrappers that run the words after them (with their own options first). */
export const WRAPPERS: ReadonlySet<string> = new Set([
  'sudo',
  'doas',
  'env',
  'nohup',
  'nice',
  'ionice',
  'time',
  'command',
  'exec',
  'builtin',
  'timeout',
  'stdbuf',
  'chroot',
  'setsid',
  'unbuffer',
  'caffeinate',
]);
/** Wrapper options that take a value (sudo -u root, nice -n 5, timeout -s KILL). */
export const WRAPPER_VALUE_OPTIONS: ReadonlySet<string> = new Set([
  '-u',
  '-g',
  '-c',
  '-p',
  '-r',
  '-t',
  '-h',
  '-n',
  '-s',
  '-k',
  '-d',
  '-o',
  '-e',
  '-i',
  '-C',
  '--signal',
  '--kill-after',
  '--user',
  '--group',
  '--chdir',
  '--unset',
  '-S',
]);
const SHELLS = new Set(['sh', 'bash', 'zsh', 'dash', 'ksh', 'fish', 'ash', 'busybox']);
const INTERPRETERS: Record<string, string[]> = {
  python: ['-c'],
  python3: ['-c'],
  python2: ['-c'],
  node: ['-e', '--eval', '-p', '--print'],
  nodejs: ['-e', '--eval', '-p', '--print'],
  deno: ['eval'],
  bun: ['-e', '--eval'],
  perl: ['-e', '-E'],
  ruby: ['-e'],
  php: ['-r'],
  osascript: ['-e'],
};
const RISKY_CODE =
  /subprocess|os\.system|os\.popen|os\.remove|os\.unlink|os\.rmdir|shutil\.rmtree|rmsync|rmdirsync|unlinksync|child_process|execsync|spawnsync|\bexec\s*\(|\bsystem\s*\(|\beval\s*\(|fs\.rm\b|rimraf|unlink\s*\(|`/;

const GIT_GLOBAL_VALUE = new Set([
  '-c',
  '-C',
  '--git-dir',
  '--work-tree',
  '--namespace',
  '--exec-path',
  '--super-prefix',
  '--config-env',
  '--list-cmds',
  '--attr-source',
]);
const GIT_GLOBAL_FLAGS = new Set([
  '-p',
  '-P',
  '--paginate',
  '--no-pager',
  '--bare',
  '--no-replace-objects',
  '--literal-pathspecs',
  '--glob-pathspecs',
  '--noglob-pathspecs',
  '--icase-pathspecs',
  '--no-optional-locks',
  '--no-advice',
  '--version',
  '--help',
  '--html-path',
  '--man-path',
  '--info-path',
]);
/** `-c` keys that only change how output looks. Anything else may run a program or change where git reads and writes. */
const GIT_SAFE_CONFIG =
  /^(color\.[a-z.]+|user\.(name|email)|advice\.[a-z]+|init\.defaultbranch|log\.[a-z]+|column\.ui|i18n\.[a-z]+|core\.quotepath|diff\.(renames|colormoved|algorithm)|status\.[a-z]+|pager\.[a-z]+=(false|true))$/;
const GIT_COMMANDS = new Set(
  (
    'add am annotate apply archive bisect blame branch bundle checkout cherry cherry-pick clean clone commit config ' +
    'count-objects describe diff difftool fetch format-patch fsck gc grep help init log ls-files ls-remote ls-tree ' +
    'merge merge-base mergetool mv notes pull push range-diff rebase reflog remote repack replace reset restore ' +
    'rev-list rev-parse revert rm shortlog show show-ref sparse-checkout stash status submodule switch tag worktree ' +
    'cat-file hash-object update-index update-ref symbolic-ref for-each-ref verify-commit whatchanged version var ' +
    'maintenance filter-branch prune name-rev check-ignore check-attr blame'
  ).split(' '),
);
/** Long options of the git commands rules look at, for expanding abbreviations (git accepts unique prefixes). */
const GIT_LONG_OPTIONS: Record<string, string[]> = {
  reset: [
    'hard',
    'soft',
    'mixed',
    'merge',
    'keep',
    'quiet',
    'patch',
    'pathspec-from-file',
    'no-refresh',
    'recurse-submodules',
  ],
  push: [
    'force',
    'force-with-lease',
    'force-if-includes',
    'mirror',
    'delete',
    'all',
    'tags',
    'prune',
    'dry-run',
    'set-upstream',
    'verbose',
    'quiet',
    'no-verify',
    'atomic',
    'follow-tags',
    'porcelain',
    'repo',
    'receive-pack',
    'exec',
    'signed',
    'push-option',
  ],
  clean: ['force', 'dry-run', 'quiet', 'interactive', 'exclude'],
  checkout: [
    'force',
    'quiet',
    'ours',
    'theirs',
    'track',
    'detach',
    'orphan',
    'merge',
    'patch',
    'no-track',
    'progress',
  ],
  branch: [
    'delete',
    'force',
    'move',
    'copy',
    'list',
    'all',
    'remotes',
    'verbose',
    'quiet',
    'track',
    'set-upstream-to',
    'unset-upstream',
    'show-current',
    'contains',
    'merged',
    'no-merged',
  ],
  restore: [
    'source',
    'staged',
    'worktree',
    'patch',
    'quiet',
    'progress',
    'ours',
    'theirs',
    'merge',
    'overlay',
    'no-overlay',
    'ignore-unmerged',
  ],
  stash: ['include-untracked', 'all', 'keep-index', 'quiet', 'patch', 'message'],
  rebase: ['interactive', 'onto', 'continue', 'abort', 'skip', 'exec', 'root', 'autosquash', 'force-rebase'],
};

const NPM_VALUE_OPTIONS = new Set([
  '--prefix',
  '-C',
  '--userconfig',
  '--globalconfig',
  '--cache',
  '--registry',
  '--script-shell',
  '--workspace',
  '-w',
  '--loglevel',
  '--otp',
  '--tag',
  '--access',
  '--node-options',
  '--dir',
  '--filter',
  '--cwd',
]);
const NPM_EXEC = new Set(['exec', 'x', 'dlx']);

function expandAbbreviation(option: string, known: readonly string[] | undefined): string {
  if (!known || !option.startsWith('--') || option.length < 3) return option;
  const [name, ...value] = option.slice(2).split('=');
  if (known.includes(name!)) return option;
  const hits = known.filter((k) => k.startsWith(name!));
  if (hits.length === 1) return `--${hits[0]}${value.length ? `=${value.join('=')}` : ''}`;
  return option;
}

interface Expansion {
  /** Canonical words of this command. */
  words: string[];
  /** Commands it runs (text to classify again). */
  inner: string[];
  opaque: Opaque[];
}

/** Skips assignments and wrappers; returns the index of the real program. */
function skipWrappers(words: string[]): number {
  let i = 0;
  while (i < words.length) {
    const w = words[i]!;
    if (/^[a-z_][a-z0-9_]*=/i.test(w)) i++;
    else if (WRAPPERS.has(path.posix.basename(w))) {
      i++;
      while (
        i < words.length &&
        (words[i]!.startsWith('-') ||
          /^\d+(\.\d+)?[smhd]?$/.test(words[i]!) ||
          /^[a-z_][a-z0-9_]*=/i.test(words[i]!))
      ) {
        if (WRAPPER_VALUE_OPTIONS.has(words[i]!)) i++;
        i++;
      }
    } else break;
  }
  return i;
}

function expandGit(rest: string[]): Expansion {
  const opaque: Opaque[] = [];
  const inner: string[] = [];
  let i = 0;
  for (; i < rest.length && rest[i]!.startsWith('-'); i++) {
    const [opt, inline] =
      rest[i]!.includes('=') && rest[i]!.startsWith('--') ? rest[i]!.split(/=(.*)/s) : [rest[i]!, undefined];
    if (GIT_GLOBAL_FLAGS.has(opt)) continue;
    if (!GIT_GLOBAL_VALUE.has(opt)) {
      opaque.push({
        rule: 'git-unknown-option',
        reason: `git option ${opt} before the command is not one I can read`,
      });
      continue;
    }
    const value = inline ?? rest[++i] ?? '';
    if (opt === '-c' || opt === '--config-env') {
      const key = value.split('=')[0]!.toLowerCase();
      const val = value.slice(key.length + 1);
      if (key.startsWith('alias.') && val.startsWith('!')) inner.push(val.slice(1));
      if (!GIT_SAFE_CONFIG.test(value.toLowerCase()) && !GIT_SAFE_CONFIG.test(key))
        opaque.push({
          rule: 'git-config-override',
          reason: `git -c ${key} changes git's configuration for this call (it can run programs)`,
        });
    } else if (
      opt === '--exec-path' ||
      opt === '--git-dir' ||
      opt === '--work-tree' ||
      opt === '--namespace' ||
      opt === '--super-prefix'
    ) {
      opaque.push({
        rule: 'git-location-override',
        reason: `git ${opt} changes where git reads its programs or repository`,
      });
    }
  }
  const sub = rest[i];
  if (sub === undefined) return { words: ['git'], inner, opaque };
  if (!GIT_COMMANDS.has(sub))
    opaque.push({
      rule: 'git-unknown-command',
      reason: `git ${sub} is not a git command I know (an alias runs anything)`,
    });
  const known = GIT_LONG_OPTIONS[sub];
  const args = rest.slice(i + 1).map((a) => expandAbbreviation(a, known));
  if (sub === 'push') {
    const out: string[] = [];
    const flags: string[] = [];
    let positional = 0;
    for (const a of args) {
      if (a.startsWith('-')) {
        out.push(a);
        continue;
      }
      positional++;
      if (positional === 1) {
        out.push(a);
        continue;
      }
      let ref = a;
      if (ref.startsWith('+')) {
        flags.push('--force');
        ref = ref.slice(1);
      }
      if (ref.startsWith(':')) {
        flags.push('--delete');
        ref = ref.slice(1);
      }
      const colon = ref.lastIndexOf(':');
      out.push(colon >= 0 ? ref.slice(colon + 1) : ref);
    }
    return { words: ['git', 'push', ...flags, ...out], inner, opaque };
  }
  if (sub === 'rebase' || sub === 'bisect') {
    const exec = args.findIndex((a) => a === '--exec' || a === '-x');
    if (exec >= 0 && args[exec + 1]) inner.push(args[exec + 1]!);
  }
  return { words: ['git', sub, ...args], inner, opaque };
}

function expandNpm(name: string, rest: string[]): Expansion {
  const opaque: Opaque[] = [];
  const inner: string[] = [];
  let i = 0;
  for (; i < rest.length && rest[i]!.startsWith('-'); i++) {
    const opt = rest[i]!.split('=')[0]!;
    if (NPM_VALUE_OPTIONS.has(opt) && !rest[i]!.includes('=')) i++;
  }
  const sub = rest[i];
  if (sub === undefined) return { words: [name], inner, opaque };
  const args = rest.slice(i + 1);
  const canonicalSub = sub === 'run-script' ? 'run' : sub === 'x' ? 'exec' : sub;
  if (NPM_EXEC.has(sub) || (name === 'pnpm' && sub === 'exec')) {
    opaque.push({ rule: 'package-exec', reason: `${name} ${sub} fetches or runs a package's program` });
    const dash = args.indexOf('--');
    const runWords =
      dash >= 0
        ? args.slice(dash + 1)
        : args.filter(
            (a, k) =>
              !a.startsWith('-') && !(k > 0 && ['-c', '--call', '--package', '-p'].includes(args[k - 1]!)),
          );
    const call = args.findIndex((a) => a === '-c' || a === '--call');
    if (call >= 0 && args[call + 1]) inner.push(args[call + 1]!);
    if (runWords.length) inner.push(runWords.join(' '));
  }
  return { words: [name, canonicalSub, ...args], inner, opaque };
}

function expandWords(words: string[]): Expansion {
  const start = skipWrappers(words);
  const first = words[start];
  if (first === undefined) return { words: [], inner: [], opaque: [] };
  const name = path.posix.basename(first);
  const rest = words.slice(start + 1);
  if (name === 'git') return expandGit(rest);
  if (name === 'npm' || name === 'pnpm' || name === 'yarn') return expandNpm(name, rest);
  if (name === 'npx' || name === 'bunx' || name === 'pnpx')
    return {
      words: [name, ...rest],
      inner: [rest.filter((a) => !a.startsWith('-')).join(' ')],
      opaque: [{ rule: 'package-exec', reason: `${name} fetches or runs a package's program` }],
    };
  if (SHELLS.has(name)) {
    const c = rest.findIndex((a) => a === '-c' || /^-[a-z]*c$/.test(a));
    if (c >= 0 && rest[c + 1] !== undefined)
      return { words: [name, ...rest], inner: [rest[c + 1]!], opaque: [] };
    return { words: [name, ...rest], inner: [], opaque: [] };
  }
  const flags = INTERPRETERS[name] ?? INTERPRETERS[name.replace(/[\d.]+$/, '')];
  if (flags) {
    const at = rest.findIndex((a) => flags.includes(a));
    if (at >= 0) {
      const code = rest[at + 1] ?? '';
      return {
        words: [name, ...rest],
        inner: [],
        opaque: RISKY_CODE.test(code.toLowerCase())
          ? [
              {
                rule: 'inline-code',
                reason: `${name} ${rest[at]} runs inline code that starts programs or deletes files`,
              },
            ]
          : [],
      };
    }
  }
  if (name === 'eval' || name === 'source' || name === '.')
    return {
      words: [name, ...rest],
      inner: name === 'eval' ? [rest.join(' ')] : [],
      opaque: [{ rule: 'eval', reason: `${name} runs text built at run time` }],
    };
  if (name === 'xargs') {
    let k = 0;
    while (k < rest.length && rest[k]!.startsWith('-')) {
      if (['-n', '-I', '-i', '-L', '-P', '-d', '-E', '-s', '-a'].includes(rest[k]!)) k++;
      k++;
    }
    return { words: [name, ...rest], inner: rest.length > k ? [rest.slice(k).join(' ')] : [], opaque: [] };
  }
  if (name === 'find') {
    const inner: string[] = [];
    rest.forEach((a, k) => {
      if (['-exec', '-execdir', '-ok', '-okdir'].includes(a)) {
        const end = rest.findIndex((b, j) => j > k && (b === ';' || b === '+' || b === '\\;'));
        inner.push(rest.slice(k + 1, end < 0 ? undefined : end).join(' '));
      }
    });
    const opaque: Opaque[] = rest.includes('-delete')
      ? [{ rule: 'find-delete', reason: 'find -delete removes files' }]
      : [];
    return { words: [name, ...rest], inner, opaque };
  }
  return { words: [name, ...rest], inner: [], opaque: [] };
}

const MAX_DEPTH = 4;

/** The canonical forms of a raw command text, and what in it needs a human to read. */
export function canonicalize(raw: string, depth = 0): CanonicalForm {
  const texts: string[] = [];
  const opaque: Opaque[] = [];
  if (depth > MAX_DEPTH)
    return { texts, opaque: [{ rule: 'too-deep', reason: 'commands nested too deep to read' }] };
  if (/\$\(|`[^`]*`|<\(|>\(/.test(raw))
    opaque.push({
      rule: 'command-substitution',
      reason: 'command substitution: what runs is decided at run time',
    });
  for (const stages of tokenize(raw)) {
    const canonicalStages: string[] = [];
    for (const stage of stages) {
      const e = expandWords(stage.map((w) => w.toLowerCase()));
      canonicalStages.push(e.words.join(' '));
      opaque.push(...e.opaque);
      for (const text of e.inner) {
        const nested = canonicalize(text, depth + 1);
        texts.push(...nested.texts, text.toLowerCase());
        opaque.push(...nested.opaque);
      }
    }
    texts.push(canonicalStages.join(' | '));
  }
  return { texts, opaque };
}
