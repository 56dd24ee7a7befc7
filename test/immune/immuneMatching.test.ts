/**
 * Matching quality on the paraphrase set (test/fixtures/immune/paraphrases.json): every failed
 * prompt is remembered; a paraphrase must match its own failure and an unrelated prompt nothing,
 * at the default threshold. Fails if precision or recall drop below 0.9.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { ImmuneSystem } from '../../src/immune/immuneSystem.js';
import { openStorage } from '../../src/storage/storage.js';
import type { Storage } from '../../src/storage/storage.js';

const data = JSON.parse(
  await fs.readFile(path.join(import.meta.dirname, '..', 'fixtures', 'immune', 'paraphrases.json'), 'utf8'),
) as { pairs: Array<[string, string]>; unrelated: string[] };

let dir: string;
let storage: Storage;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'to-immune-'));
  storage = await openStorage({ stateDir: dir, logger: silentLogger });
});
afterEach(async () => {
  await storage.close();
  await fs.rm(dir, { recursive: true, force: true });
});

describe('immune matching quality', () => {
  it('keeps precision and recall at or above 0.9 on the paraphrase set', async () => {
    const immune = new ImmuneSystem(storage, systemClock);
    const ids: string[] = [];
    for (const [failed] of data.pairs) {
      const r = await immune.recordFailure({
        operation: 'spawn_agent',
        failure_type: 'low_quality',
        prompt: failed,
        output: '',
        grader_scores: {},
      });
      ids.push(r.pattern_id);
    }
    let tp = 0;
    let fn = 0;
    let fp = 0;
    for (const [i, [, paraphrase]] of data.pairs.entries()) {
      const top = (await immune.check(paraphrase, 'spawn_agent')).matches[0];
      if (top?.pattern_id === ids[i]) tp++;
      else {
        fn++;
        if (top) fp++;
      }
    }
    for (const unrelated of data.unrelated)
      if ((await immune.check(unrelated, 'spawn_agent')).matches.length > 0) fp++;
    const precision = tp / (tp + fp);
    const recall = tp / (tp + fn);
    expect(precision).toBeGreaterThanOrEqual(0.9);
    expect(recall).toBeGreaterThanOrEqual(0.9);
  });
});
