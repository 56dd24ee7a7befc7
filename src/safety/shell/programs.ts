/**
 * What programs do with their arguments, for the classifier: which ones run another command
 * (wrappers, and how many of their options take a value), which are shells and interpreters (and
 * how inline code is passed to each), which only read, which write which of their operands, and
 * which are database clients. Facts about the programs themselves, not policy: what is allowed is
 * decided in classifier.ts and data/operations.json.
 */

/** A wrapper runs the words after its options as a command (or a shell text, for some). */
export interface WrapperSpec {
  /** Options that take the next word as their value. */
  valueOptions?: readonly string[];
  /** Options that take a shell text to run (`su -c TEXT`, `script -c TEXT`, `env -S TEXT`). */
  textOptions?: readonly string[];
  /** Plain operands to skip before the command (timeout DURATION, chroot DIR, flock FILE). */
  skipOperands?: number;
  /** NAME=value words before the command are assignments (env). */
  assignments?: boolean;
  /** The remaining words are joined into one shell text (watch, ssh). */
  joinsText?: boolean;
  /** With no command (or only options) it runs nothing (command -v, time -p). */
  runsNothingWith?: readonly string[];
  /** Adds arguments the text does not show (xargs, parallel). */
  addsArguments?: boolean;
}

export const WRAPPERS: Readonly<Record<string, WrapperSpec>> = {
  sudo: {
    valueOptions: [
      '-u',
      '-g',
      '-p',
      '-r',
      '-t',
      '-C',
      '-h',
      '-U',
      '-D',
      '--user',
      '--group',
      '--chdir',
      '--prompt',
    ],
    assignments: true,
  },
  doas: { valueOptions: ['-u', '-C'] },
  su: {
    valueOptions: ['-s', '-g', '-G', '--shell', '--group'],
    textOptions: ['-c', '--command'],
    skipOperands: 1,
  },
  runuser: { valueOptions: ['-u', '-g', '-G', '-s'], textOptions: ['-c', '--command'] },
  env: {
    valueOptions: ['-u', '--unset', '-C', '--chdir'],
    textOptions: ['-S', '--split-string'],
    assignments: true,
  },
  nohup: {},
  nice: { valueOptions: ['-n', '--adjustment'] },
  ionice: { valueOptions: ['-c', '-n', '-p', '--class', '--classdata'] },
  time: { valueOptions: ['-f', '-o', '--format', '--output'] },
  command: { runsNothingWith: ['-v', '-V'] },
  builtin: {},
  exec: { valueOptions: ['-a'] },
  timeout: { valueOptions: ['-s', '-k', '--signal', '--kill-after'], skipOperands: 1 },
  stdbuf: { valueOptions: ['-i', '-o', '-e', '--input', '--output', '--error'] },
  chroot: { valueOptions: ['--userspec', '--groups'], skipOperands: 1 },
  setsid: {},
  // unbuffer and script give the command a pseudo terminal: what runs is judged like any other.
  unbuffer: {},
  caffeinate: { valueOptions: ['-t', '-w'] },
  xargs: {
    valueOptions: [
      '-n',
      '-I',
      '-i',
      '-L',
      '-l',
      '-P',
      '-d',
      '-E',
      '-e',
      '-s',
      '-a',
      '--max-args',
      '--replace',
      '--max-lines',
      '--max-procs',
      '--delimiter',
      '--eof',
      '--max-chars',
      '--arg-file',
    ],
    addsArguments: true,
  },
  parallel: { valueOptions: ['-j', '--jobs', '-S', '--sshlogin'], addsArguments: true },
  flock: {
    valueOptions: ['-w', '--timeout', '-E', '--conflict-exit-code'],
    textOptions: ['-c', '--command'],
    skipOperands: 1,
  },
  watch: { valueOptions: ['-n', '--interval', '-d', '--differences'], joinsText: true },
  strace: { valueOptions: ['-e', '-o', '-p', '-s', '-u', '-E'] },
  ltrace: { valueOptions: ['-e', '-o', '-p', '-s', '-u'] },
  valgrind: {},
  taskset: { valueOptions: ['-p', '--pid'], skipOperands: 1 },
  chrt: { skipOperands: 1 },
  prlimit: { valueOptions: ['-p', '--pid'] },
  unshare: {},
  nsenter: { valueOptions: ['-t', '--target'] },
  'systemd-run': { valueOptions: ['-u', '--unit', '-p', '--property', '--on-calendar', '--on-active'] },
  coproc: {},
  script: {
    valueOptions: [
      '-t',
      '-T',
      '-I',
      '-O',
      '-B',
      '-E',
      '-m',
      '--log-in',
      '--log-out',
      '--log-io',
      '--log-timing',
      '--echo',
      '--logging-format',
    ],
    textOptions: ['-c', '--command'],
  },
  ssh: {
    valueOptions: [
      '-p',
      '-i',
      '-l',
      '-o',
      '-F',
      '-J',
      '-L',
      '-R',
      '-D',
      '-W',
      '-b',
      '-c',
      '-e',
      '-m',
      '-Q',
      '-S',
      '-w',
      '-E',
      '-B',
      '-O',
    ],
    skipOperands: 1,
    joinsText: true,
  },
  firejail: {},
  bwrap: {},
};

/** Wrappers whose options all start with -- and take values with = (bwrap, firejail): skip words until the program. */
export const OPAQUE_OPTION_WRAPPERS = new Set(['bwrap', 'firejail', 'unshare', 'valgrind', 'systemd-run']);

/** Multi-call binaries: `busybox rm ...` runs rm. */
export const MULTI_CALL = new Set(['busybox', 'toybox']);

export const SHELLS = new Set([
  'sh',
  'bash',
  'zsh',
  'dash',
  'ksh',
  'mksh',
  'fish',
  'ash',
  'tcsh',
  'csh',
  'yash',
  'rbash',
]);

/** Interpreters and the options that pass them code inline (a trailing letter in a group counts: -Ic). */
export interface InterpreterSpec {
  /** Options followed by code: -c, -e, --eval. */
  codeOptions: readonly string[];
  /** Short option letters that take code when last in a group (python -Ic, perl -ne). */
  codeLetters?: string;
  /** Options whose value loads code in a way that runs it (perl -M, node -r/--require, --import). */
  loadOptions?: readonly string[];
  /** Options that take a value (so the value is not the script). */
  valueOptions?: readonly string[];
  /** Subcommands that run code from an argument (deno eval). */
  codeSubcommands?: readonly string[];
  /** Options that edit files in place (perl -i). */
  inPlaceLetters?: string;
}

const INTERPRETERS: Readonly<Record<string, InterpreterSpec>> = {
  python: { codeOptions: ['-c'], codeLetters: 'c', valueOptions: ['-m', '-W', '-X', '-Q'] },
  node: {
    codeOptions: ['-e', '--eval', '-p', '--print'],
    codeLetters: 'ep',
    loadOptions: ['-r', '--require', '--import', '--loader', '--experimental-loader'],
    valueOptions: [
      '--inspect-port',
      '--max-old-space-size',
      '--stack-size',
      '--input-type',
      '--conditions',
      '-C',
    ],
  },
  nodejs: {
    codeOptions: ['-e', '--eval', '-p', '--print'],
    codeLetters: 'ep',
    loadOptions: ['-r', '--require', '--import'],
  },
  perl: {
    codeOptions: ['-e', '-E'],
    codeLetters: 'eE',
    loadOptions: ['-M', '-m'],
    valueOptions: ['-I'],
    inPlaceLetters: 'i',
  },
  ruby: { codeOptions: ['-e'], codeLetters: 'e', loadOptions: ['-r'], valueOptions: ['-I', '-C'] },
  php: { codeOptions: ['-r', '-R', '-B', '-E'], codeLetters: 'r', valueOptions: ['-d', '-c', '-f'] },
  lua: { codeOptions: ['-e'], codeLetters: 'e', loadOptions: ['-l'] },
  luajit: { codeOptions: ['-e'], codeLetters: 'e', loadOptions: ['-l'] },
  deno: { codeOptions: [], codeSubcommands: ['eval'] },
  bun: { codeOptions: ['-e', '--eval', '-p', '--print'], codeLetters: 'ep' },
  osascript: { codeOptions: ['-e'], codeLetters: 'e' },
  tclsh: { codeOptions: [] },
  wish: { codeOptions: [] },
  expect: { codeOptions: ['-c'], codeLetters: 'c' },
  Rscript: { codeOptions: ['-e'], codeLetters: 'e' },
  R: { codeOptions: ['-e'], codeLetters: 'e' },
  julia: { codeOptions: ['-e', '--eval', '-E', '--print'], codeLetters: 'eE' },
  pwsh: { codeOptions: ['-c', '-command', '-Command', '-EncodedCommand', '-e'] },
  powershell: { codeOptions: ['-c', '-command', '-Command', '-EncodedCommand'] },
  jshell: { codeOptions: [] },
  irb: { codeOptions: [] },
  guile: { codeOptions: ['-c'], codeLetters: 'c' },
  racket: { codeOptions: ['-e'], codeLetters: 'e' },
  gawk: { codeOptions: [] },
};

/** An interpreter's name as written (python3.12, node20) to its table entry. */
export function interpreterOf(name: string): InterpreterSpec | undefined {
  const direct = INTERPRETERS[name];
  if (direct) return direct;
  return INTERPRETERS[name.replace(/[\d.]+$/, '')];
}

/** Programs whose program text is their first operand (awk 'BEGIN{...}'): code, checked for what it can do. */
export const AWKS = new Set(['awk', 'gawk', 'mawk', 'nawk']);

/** Database clients: SQL in their arguments or on their standard input is read as SQL. */
export const SQL_CLIENTS = new Set([
  'psql',
  'mysql',
  'mariadb',
  'sqlite3',
  'sqlite',
  'duckdb',
  'sqlcmd',
  'clickhouse-client',
  'cockroach',
  'pgcli',
  'mycli',
  'litecli',
  'usql',
  'snowsql',
  'bq',
]);

/** Programs that download: their output piped into a shell runs code from the network. */
export const DOWNLOADERS = new Set([
  'curl',
  'wget',
  'fetch',
  'aria2c',
  'http',
  'https',
  'xh',
  'nc',
  'ncat',
  'socat',
]);

/**
 * Programs that only read their operands (and write to stdout): an argument naming a file is a
 * read. Redirections are checked on their own. find and sed are here without their writing forms,
 * which classifier.ts recognises first.
 */
export const READERS = new Set([
  'cat',
  'tac',
  'less',
  'more',
  'head',
  'tail',
  'grep',
  'egrep',
  'fgrep',
  'rg',
  'ag',
  'ack',
  'wc',
  'ls',
  'll',
  'tree',
  'stat',
  'file',
  'du',
  'df',
  'diff',
  'cmp',
  'comm',
  'jq',
  'sha1sum',
  'sha256sum',
  'sha512sum',
  'md5sum',
  'cksum',
  'b2sum',
  'od',
  'hexdump',
  'strings',
  'realpath',
  'readlink',
  'basename',
  'dirname',
  'echo',
  'printf',
  'test',
  '[',
  'true',
  'false',
  'pwd',
  'which',
  'type',
  'whoami',
  'id',
  'date',
  'printenv',
  'uname',
  'hostname',
  'ps',
  'pgrep',
  'lsof',
  'netstat',
  'ss',
  'cut',
  'tr',
  'sort',
  'uniq',
  'nl',
  'fold',
  'fmt',
  'column',
  'paste',
  'join',
  'rev',
  'expand',
  'unexpand',
  'seq',
  'yes',
  'sleep',
  'env',
  'whereis',
  'locate',
  'bat',
  'fd',
  'fdfind',
  'exa',
  'eza',
  'zcat',
  'zless',
  'bzcat',
  'xzcat',
  'base64',
  'base32',
  'iconv',
  'look',
  'tsort',
  'numfmt',
  'dig',
  'nslookup',
  'host',
  'ping',
  'free',
  'uptime',
  'top',
  'htop',
  'nproc',
  'lscpu',
  'lsblk',
  'mount',
  'groups',
  'getent',
  'tty',
  'stty',
  'tput',
  'clear',
  'man',
  'info',
  'help',
  'history',
  'jobs',
  'wait',
  'cd',
  'pushd',
  'popd',
  'dirs',
  'exit',
  'return',
  'shift',
  'set',
  'shopt',
  'ulimit',
  'umask',
  'hash',
  'export',
  'local',
  'declare',
  'readonly',
  'typeset',
  'let',
  'read',
  'getopts',
  'mapfile',
  'readarray',
  'unset',
  'times',
  'caller',
  'compgen',
  'complete',
  'bind',
  'echo',
  ':',
  'xxd',
  'file',
  'git-lfs',
  'npm-ls',
  'tokei',
  'cloc',
  'sed',
  'find',
  'awk',
  'gawk',
  'mawk',
  'nawk',
]);

/** Programs that delete what their operands name (rm and friends): recursive with -r/-R/--recursive. */
export const DELETERS = new Set([
  'rm',
  'rmdir',
  'unlink',
  'shred',
  'srm',
  'trash',
  'trash-put',
  'rimraf',
  'del',
  'del-cli',
  'shx',
]);

/** Where a program writes, when it writes to its operands. */
export type WriteSpec =
  /** Every operand. */
  | 'all'
  /** The last operand (cp, ln, install, rsync, scp), or the -t/--target-directory value. */
  | 'last'
  /** Operands after the first (chmod MODE FILE..., chown OWNER FILE...). */
  | 'after-first';

export const WRITERS: Readonly<
  Record<string, { writes: WriteSpec; valueOptions?: readonly string[]; movesSources?: boolean }>
> = {
  mv: { writes: 'all', valueOptions: ['-t', '--target-directory', '-S', '--suffix'], movesSources: true },
  cp: { writes: 'last', valueOptions: ['-t', '--target-directory', '-S', '--suffix'] },
  ln: { writes: 'last', valueOptions: ['-t', '--target-directory', '-S', '--suffix'] },
  install: {
    writes: 'last',
    valueOptions: [
      '-t',
      '--target-directory',
      '-m',
      '--mode',
      '-o',
      '--owner',
      '-g',
      '--group',
      '-S',
      '--suffix',
    ],
  },
  rsync: {
    writes: 'last',
    valueOptions: [
      '-e',
      '--rsh',
      '--exclude',
      '--include',
      '--filter',
      '-f',
      '--exclude-from',
      '--include-from',
      '--files-from',
      '--chmod',
      '--log-file',
      '--partial-dir',
      '--temp-dir',
      '-T',
      '--backup-dir',
      '--suffix',
      '--max-size',
      '--min-size',
      '--bwlimit',
      '--timeout',
      '--port',
      '-M',
      '--remote-option',
    ],
  },
  scp: { writes: 'last', valueOptions: ['-P', '-i', '-o', '-F', '-c', '-l', '-S', '-J'] },
  tee: { writes: 'all' },
  touch: { writes: 'all', valueOptions: ['-d', '-t', '-r', '--date', '--reference'] },
  truncate: { writes: 'all', valueOptions: ['-s', '--size', '-r', '--reference'] },
  mkdir: { writes: 'all', valueOptions: ['-m', '--mode'] },
  mkfifo: { writes: 'all', valueOptions: ['-m', '--mode'] },
  mknod: { writes: 'all', valueOptions: ['-m', '--mode'] },
  chmod: { writes: 'after-first', valueOptions: ['--reference'] },
  chown: { writes: 'after-first', valueOptions: ['--reference', '--from'] },
  chgrp: { writes: 'after-first', valueOptions: ['--reference'] },
  chattr: { writes: 'after-first' },
  setfacl: {
    writes: 'last',
    valueOptions: ['-m', '-x', '-M', '-X', '--set', '--set-file', '--modify', '--remove'],
  },
  patch: {
    writes: 'all',
    valueOptions: [
      '-p',
      '-i',
      '-o',
      '-d',
      '-r',
      '-B',
      '-z',
      '-F',
      '-D',
      '--input',
      '--output',
      '--directory',
    ],
  },
  split: {
    writes: 'last',
    valueOptions: [
      '-l',
      '-b',
      '-n',
      '-a',
      '-C',
      '-t',
      '--lines',
      '--bytes',
      '--number',
      '--suffix-length',
      '--additional-suffix',
    ],
  },
};

/** Options whose value is a file a program writes (curl -o, sort -o, tar -C when extracting, ...). */
export const OUTPUT_OPTIONS: Readonly<Record<string, readonly string[]>> = {
  curl: [
    '-o',
    '--output',
    '--output-dir',
    '-c',
    '--cookie-jar',
    '-D',
    '--dump-header',
    '--trace',
    '--trace-ascii',
    '--stderr',
    '--libcurl',
  ],
  wget: [
    '-O',
    '--output-document',
    '-P',
    '--directory-prefix',
    '-o',
    '--output-file',
    '-a',
    '--append-output',
  ],
  sort: ['-o', '--output'],
  tar: ['-C', '--directory'],
  unzip: ['-d'],
  find: ['-fprint', '-fprint0', '-fprintf', '-fls'],
  strace: ['-o'],
  ltrace: ['-o'],
  time: ['-o', '--output'],
  npm: ['--prefix'],
  pip: ['-t', '--target', '--prefix', '--root'],
  pip3: ['-t', '--target', '--prefix', '--root'],
  make: ['-C', '--directory'],
};

/**
 * Programs (or program + subcommand) where an argument the text does not show (a variable, a
 * glob, a substitution) can decide whether the command destroys something: the classifier asks.
 */
export const FLAG_SENSITIVE = new Set([
  'rm',
  'rmdir',
  'unlink',
  'shred',
  'srm',
  'rimraf',
  'del',
  'chmod',
  'chown',
  'chgrp',
  'kill',
  'killall',
  'pkill',
  'dd',
  'rsync',
  'mv',
  'cp',
  'ln',
  'truncate',
  'mkfs',
  'wipefs',
  'fdisk',
  'parted',
  'crontab',
]);

/** git subcommands with forms that lose work or rewrite shared history. */
export const GIT_SENSITIVE = new Set([
  'push',
  'reset',
  'clean',
  'checkout',
  'restore',
  'branch',
  'stash',
  'filter-branch',
  'filter-repo',
  'update-ref',
  'reflog',
  'gc',
  'switch',
  'tag',
  'rm',
  'worktree',
  'config',
  'prune',
  'replace',
  'notes',
  'submodule',
  'remote',
]);

/** git options whose value is a message or a name, never a flag. */
export const GIT_MESSAGE_OPTIONS = new Set([
  '-m',
  '--message',
  '-F',
  '--file',
  '--author',
  '--date',
  '-C',
  '-c',
  '--reuse-message',
  '--reedit-message',
  '--fixup',
  '--squash',
  '--trailer',
]);

/** Folders a project's build makes again: deleting them recursively costs nothing to undo. */
export const GENERATED_FOLDERS = new Set([
  'dist',
  'build',
  'out',
  'target',
  'coverage',
  'node_modules',
  '.next',
  '.nuxt',
  '.svelte-kit',
  '.cache',
  '.parcel-cache',
  '.turbo',
  '.vite',
  '.vitest',
  '__pycache__',
  '.pytest_cache',
  '.mypy_cache',
  '.ruff_cache',
  '.tox',
  '.nox',
  '.gradle',
  '.angular',
  '.expo',
  'storybook-static',
  '.docusaurus',
  'htmlcov',
  '.nyc_output',
  'tmp',
  '.tmp',
  'temp',
  'dist-test',
  '.eslintcache',
  '.tsbuildinfo',
  'tsconfig.tsbuildinfo',
  '.venv',
  'venv',
  '.terraform',
  'bin',
  'obj',
  'pkg',
  'vendor',
  '.dart_tool',
]);

/** Words our CLI takes that are a person's decisions (or forge what Claude Code reports). */
export const HUMAN_COMMANDS = new Set(['approve', 'reject', 'waive-gates', 'dashboard', 'hook']);

/** Environment variables by which our CLI knows it runs inside Claude Code. */
export const CLAUDE_MARKERS = /^(CLAUDECODE|CLAUDE_CODE_[A-Z_]*|CLAUDE_PID|AI_AGENT)$/;
