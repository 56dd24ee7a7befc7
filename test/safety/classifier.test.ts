/** The operation classifier against a table of commands and payloads (bypass attempts included), and the pieces it reads a shell with. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { OperationClassifier } from '../../src/safety/classifier.js';
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
