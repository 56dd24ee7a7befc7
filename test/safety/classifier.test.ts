/** The operation classifier against a table of commands and payloads (bypass attempts included), and the pieces it reads a shell with. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { mentionsHumanChannel, OperationClassifier, sedRunsOrWrites } from '../../src/safety/classifier.js';
import { globMatch } from '../../src/safety/shell/globs.js';
import { decodeAnsiC, expandBraces, splitTopLevel } from '../../src/safety/shell/shellReading.js';
import type { Verdict } from '../../src/safety/classifier.js';

const dataDir = path.resolve(import.meta.dirname, '../../data');
let classifier: OperationClassifier;
beforeAll(async () => {
  classifier = await OperationClassifier.load(dataDir, '/nonexistent-state');
});

interface Row {
  operation: unknown;
  expect: Verdict;
  why?: string;
}
// Attack strings are data: the table lives in a JSON file and is only classified, never run.
const TABLE = (
  JSON.parse(
    readFileSync(path.resolve(import.meta.dirname, '../fixtures/shell/classifier-table.json'), 'utf8'),
  ) as { rows: Row[] }
).rows;

describe('operation classifier', () => {
  it(`classifies a table of ${TABLE.length} operations`, () => {
    expect(TABLE.length).toBeGreaterThanOrEqual(60);
    const wrong = TABLE.map((row) => ({
      op: row.operation,
      expected: row.expect,
      got: classifier.classify(row.operation).verdict,
    })).filter((r) => r.got !== r.expected);
    expect(wrong).toEqual([]);
  });

  it('names the rules that matched, most severe first', () => {
    const c = classifier.classify('sudo rm -rf /');
    expect(c.verdict).toBe('BLOCKED');
    expect(c.matches[0]).toMatchObject({ rule: 'rm-recursive-force-root', verdict: 'BLOCKED' });
    expect(c.matches.map((m) => m.rule)).toContain('sudo');
  });

  it('adds a project’s own rules', () => {
    const custom = new OperationClassifier([
      { id: 'no-deploy', verdict: 'REQUIRES_APPROVAL', reason: 'deploys', pattern: '\\bdeploy\\b' },
    ]);
    expect(custom.classify('make deploy').verdict).toBe('REQUIRES_APPROVAL');
    expect(custom.classify('make test').verdict).toBe('SAFE');
  });
});

describe('reading a shell word as Bash does', () => {
  it("decodes $'...', expands braces, matches globs, splits what did not parse", () => {
    expect(decodeAnsiC('\\x72\\x6d \\101\\n\\u00e9\\t\\cA')).toBe('rm A\né\t\x01');
    expect(expandBraces('a{b,c}d')).toEqual(['abd', 'acd']);
    expect(expandBraces('{1..3}')).toEqual(['1', '2', '3']);
    expect(expandBraces('x{a,{b,c}}')).toEqual(['xa', 'xb', 'xc']);
    expect(expandBraces('{}')).toBeUndefined();
    expect(expandBraces('{1..100000}')).toBeUndefined();
    expect(globMatch('r?', 'rm')).toBe(true);
    expect(globMatch('*.ts', 'index.ts')).toBe(true);
    expect(globMatch('[!a]m', 'rm')).toBe(true);
    expect(globMatch('[a-c]*', 'rm')).toBe(false);
    expect(globMatch('*a*a*a*a*b', 'a'.repeat(200))).toBe(false);
    expect(splitTopLevel('[[ -d ~ ]] && rm -rf x; echo "a;b" | (c; d)')).toEqual([
      '[[ -d ~ ]]',
      'rm -rf x',
      'echo "a;b"',
      '(c; d)',
    ]);
  });

  it('knows which sed scripts run commands or write files, and which texts name the human channel', () => {
    for (const script of ['s/a/b/e', '1w out.txt', 's/a/b/w out', '/x/e', 'e ls'])
      expect(sedRunsOrWrites(script), script).toBe(true);
    for (const script of ['s/a/b/g', '1,20p', '/x/d', 's#/e#/f#', 'y/abc/xyz/'])
      expect(sedRunsOrWrites(script), script).toBe(false);
    expect(mentionsHumanChannel('spawn task-orchestrator approve act_1')).toBe(true);
    expect(mentionsHumanChannel('node dist/cli.js hook PreToolUse')).toBe(true);
    expect(mentionsHumanChannel('please approve the pull request')).toBe(false);
    expect(mentionsHumanChannel('task-orchestrator tasks_list')).toBe(false);
  });
});
