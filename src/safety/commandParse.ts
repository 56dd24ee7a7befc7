/**
 * Canonical forms of the programs whose options the rules read closely, from an argv (words as the
 * program receives them, after the shell): git's global options removed and checked, long options
 * expanded from the abbreviations git accepts, `+ref` pushes written as --force and `:ref` as
 * --delete; npm's options before the subcommand skipped, `npm exec` and friends reported. What runs
 * another command (`git -c alias.x=!cmd`, `rebase --exec`, `npm exec -c`) is returned as shell
 * text to classify too; what cannot be read with confidence is reported as opaque, and the
 * classifier asks a person rather than guess.
 */
export interface Opaque {
  rule: string;
  reason: string;
}

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

export interface Expansion {
  /** Canonical words of this command. */
  words: string[];
  /** Commands it runs (text to classify again). */
  inner: string[];
  opaque: Opaque[];
}

export function expandGit(rest: string[]): Expansion {
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

/** What `npm exec`, `npx` and friends would run: the program's words, and whether it may be fetched. */
export interface PackageRun {
  argv: string[];
  /** --package, -p, --yes or a version (`pkg@1`): a package is named, so it may be downloaded. */
  fetches: boolean;
}

export function expandNpm(name: string, rest: string[]): Expansion & { run?: PackageRun } {
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
    const call = args.findIndex((a) => a === '-c' || a === '--call');
    if (call >= 0 && args[call + 1]) inner.push(args[call + 1]!);
    return { words: [name, canonicalSub, ...args], inner, opaque, run: packageRun(args) };
  }
  return { words: [name, canonicalSub, ...args], inner, opaque };
}

/** The program words of `npx [options] <bin> args` (and `npm exec [options] -- <bin> args`). */
export function packageRun(args: readonly string[]): PackageRun {
  let fetches = false;
  let k = 0;
  for (; k < args.length; k++) {
    const a = args[k]!;
    if (a === '--') {
      k++;
      break;
    }
    if (!a.startsWith('-')) break;
    const opt = a.split('=')[0]!;
    if (['--package', '-p', '--yes', '-y'].includes(opt)) fetches = true;
    if (
      ['--package', '-p', '-c', '--call', '--prefix', '--cache', '--registry', '-w', '--workspace'].includes(
        opt,
      ) &&
      !a.includes('=')
    )
      k++;
  }
  const argv = args.slice(k);
  // A bin named with a version or a scope/path is a package to fetch.
  if (argv[0] !== undefined && /@|\/|^[.]/.test(argv[0].replace(/^@/, ''))) fetches = true;
  return { argv, fetches };
}
