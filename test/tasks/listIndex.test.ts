/**
 * The cached list orders update in place after each change; a fresh index built from scratch must
 * always agree with them. Random operations, compared after every step.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { openStorage } from '../../src/storage/storage.js';
import type { Storage } from '../../src/storage/storage.js';
import { ListIndex } from '../../src/tasks/listIndex.js';
import type { ListFilter } from '../../src/tasks/listIndex.js';
import { PRIORITIES } from '../../src/tasks/model.js';
import type { Status } from '../../src/tasks/model.js';
import { TaskService } from '../../src/tasks/taskService.js';

let dir: string;
let storage: Storage;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'to-list-'));
  storage = await openStorage({ stateDir: dir, logger: silentLogger });
});
afterEach(async () => {
  await storage.close();
  await fs.rm(dir, { recursive: true, force: true });
});

/** A small deterministic PRNG so a failure can be replayed. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('ListIndex', () => {
  it.each([42, 7, 2026])(
    'stays identical to a fresh build through 250 random changes (seed %i)',
    async (seed) => {
      const tasks = new TaskService({
        storage,
        logger: silentLogger,
        clock: systemClock,
        projectDir: dir,
        gates: { vet: () => Promise.resolve(), run: () => Promise.reject(new Error('no gates here')) },
      });
      const random = rng(seed);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
      const ids: string[] = [];
      const filters: Array<Omit<ListFilter, 'limit'>> = [
        {},
        { sort: 'due' },
        { sort: 'updated', order: 'desc' },
        { sort: 'created' },
        { ready: true },
        { ready: false, sort: 'due' },
        { priority: ['high', 'critical'] },
        { status: ['completed', 'cancelled'] },
        { include_closed: true },
        { tag: 'x' },
        { parent: null },
      ];
      const cached = new ListIndex();
      for (let step = 0; step < 250; step++) {
        const r = random();
        try {
          if (r < 0.3 || ids.length < 5) {
            const added = await tasks.add(
              [
                {
                  title: `task ${step}`,
                  priority: pick(PRIORITIES),
                  ...(random() < 0.5
                    ? { due: `2027-0${1 + Math.floor(random() * 9)}-1${Math.floor(random() * 9)}` }
                    : {}),
                  ...(random() < 0.3 ? { tags: ['x'] } : {}),
                  ...(ids.length > 0 && random() < 0.3 ? { depends_on: [{ task: pick(ids) }] } : {}),
                  ...(ids.length > 0 && random() < 0.2 ? { parent: pick(ids) } : {}),
                },
              ],
              'tester',
            );
            ids.push(added[0]!.task.id);
          } else if (r < 0.5) {
            await tasks.complete(pick(ids), {}, 'tester');
          } else if (r < 0.65) {
            await tasks.transition(
              pick(ids),
              pick<Status>(['active', 'blocked', 'ready', 'cancelled', 'review']),
              undefined,
              'tester',
            );
          } else if (r < 0.8) {
            await tasks.update(
              pick(ids),
              { priority: pick(PRIORITIES), due: random() < 0.5 ? '2027-05-05' : (null as never) },
              undefined,
              'tester',
            );
          } else if (r < 0.9) {
            await tasks.depend(pick(ids), 'add', pick(ids), 'completion', undefined, 'tester');
          } else {
            await tasks.update(pick(ids), { parent: random() < 0.5 ? pick(ids) : null }, 'moved', 'tester');
          }
        } catch {
          // Refused operations (bad transitions, cycles, gates) are part of the mix.
        }
        await tasks.read((state, version) => {
          for (const f of filters) {
            const request = { ...f, limit: 1000 };
            const incremental = cached.page(state, version, request);
            const fresh = new ListIndex().page(state, version, request);
            expect(incremental, `step ${step}, filter ${JSON.stringify(f)}`).toEqual(fresh);
          }
        });
      }
      expect(ids.length).toBeGreaterThan(40);
    },
  );
});
