/**
 * Plain commands are read without the shell grammar (so a hook process with no server need not
 * load it): that reading must be the grammar's, word for word, wherever it answers; and a
 * classifier that loads the grammar only when needed must decide every table row alike.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { OperationClassifier } from '../../src/safety/classifier.js';
import { loadBashParser, loadedBashParser } from '../../src/safety/shell/bashParser.js';
import type { BashParser } from '../../src/safety/shell/bashParser.js';
import { readPlainShell, readShell } from '../../src/safety/shell/shellReading.js';

const fixtures = path.resolve(import.meta.dirname, '../fixtures/shell');
const json = (name: string) =>
  JSON.parse(readFileSync(path.join(fixtures, name), 'utf8')) as Record<string, unknown>;
const dataDirOf = () => path.resolve(import.meta.dirname, '../../data');
const eager = () => OperationClassifier.load(dataDirOf(), '/nonexistent-state');
const fill = (text: string) =>
  text.replaceAll('{project}', '/tmp/project').replaceAll('{cli}', '/opt/cli.js');

const everyday = (json('everyday.json').commands as string[]).map(fill);
const destructive = (json('destructive.json').rows as Array<{ command?: unknown }>).flatMap((r) =>
  typeof r.command === 'string' ? [fill(r.command)] : [],
);
const table = (json('classifier-table.json').rows as Array<{ operation: unknown }>).flatMap((r) =>
  typeof r.operation === 'string' ? [r.operation] : [],
);

/** Lines made of pieces a plain reader must get right or refuse: quotes, = and %, keywords, odd spacing. */
function generated(): string[] {
  const pieces = [
    'ls',
    'rm',
    '-rf',
    'git',
    'push',
    '--force',
    "'a b'",
    '"c d"',
    "''",
    '""',
    'x=1',
    'a"b"c',
    "it's",
    '%1',
    '~',
    '*',
    'src/*.ts',
    '$HOME',
    '"$x"',
    '`id`',
    '\\n',
    ';',
    '|',
    '&&',
    '>',
    'f',
    '(',
    'if',
    'then',
    'cd',
    'export',
    'X=1',
    '--a=b',
    '@x',
    '+1',
    'a:b',
    'a,b',
    '"!x"',
    "'$y'",
    '#c',
    '{a,b}',
    '[x]',
    '!',
  ];
  const out: string[] = [];
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
  for (let i = 0; i < 3000; i++) {
    const words = Array.from({ length: 1 + (next() % 5) }, () => pieces[next() % pieces.length]!);
    out.push(words.join(next() % 4 === 0 ? '  ' : ' '));
  }
  return out;
}

describe('a classifier that loads the grammar when needed', () => {
  it('decides every row as one loaded with it, loading the grammar at the first line that is not plain', async () => {
    const dataDir = path.resolve(import.meta.dirname, '../../data');
    const lazy = await OperationClassifier.load(dataDir, '/nonexistent-state', { grammar: 'when-needed' });
    // Runs first in this file: nothing has loaded the grammar yet.
    expect(loadedBashParser()).toBeUndefined();
    expect((await lazy.classifyShellLoaded('git status', { cwd: '/tmp/project' })).verdict).toBe('SAFE');
    expect(loadedBashParser()).toBeUndefined();
    expect((await lazy.classifyShellLoaded('echo x | sh', { cwd: '/tmp/project' })).verdict).not.toBe('SAFE');
    expect(loadedBashParser()).toBeDefined();
    for (const line of [...table, ...destructive, ...everyday]) {
      const a = (await eager()).classifyShell(line, { cwd: '/tmp/project' });
      const b = await lazy.classifyShellLoaded(line, { cwd: '/tmp/project' });
      expect(b.verdict, line).toBe(a.verdict);
    }
  });
});

describe('plain commands without the grammar', () => {
  let parser: BashParser;
  beforeAll(async () => {
    parser = await loadBashParser();
  });
  const options = { cwd: '/tmp/project', home: '/home/dev' };
  const grammar = (text: string) => {
    const tree = parser.parse(text);
    try {
      return readShell(tree.rootNode, options);
    } finally {
      tree.delete();
    }
  };

  it('reads every plain line exactly as the grammar does, and leaves the rest to it', () => {
    let plain = 0;
    const lines = [...everyday, ...destructive, ...table, ...generated()];
    for (const line of lines) {
      const fast = readPlainShell(line, options);
      if (!fast) continue;
      plain++;
      expect(fast, line).toEqual(grammar(line));
    }
    // Not vacuous: most everyday commands are plain, and the generated lines hold both kinds.
    expect(everyday.filter((l) => readPlainShell(l, options)).length / everyday.length).toBeGreaterThan(0.4);
    expect(plain).toBeGreaterThan(600);
    expect(plain).toBeLessThan(lines.length - 1000);
  });

  it.each([
    'rm -rf ~',
    'echo $HOME',
    'ls *.ts',
    'a; b',
    'X=1 cmd',
    'cd /',
    'echo "$(id)"',
    'echo hi > f',
    'export A=1',
    'if true',
    "echo 'a' 'b",
    'echo {a,b}',
    'time ls',
    'ls\tsrc',
    'ls\nrm -rf /',
  ])('%j is left to the grammar', (line) => {
    expect(readPlainShell(line, options)).toBeUndefined();
  });
});
