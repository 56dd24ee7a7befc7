import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import { AppError } from '../../src/core/errors.js';
import { createEventStore } from '../../src/storage/eventStore.js';

const worker = path.join(import.meta.dirname, 'fixtures', 'storageWorker.mjs');

interface Counter {
  n: number;
  keys: string[];
}
interface Step {
  n: number;
  key: string;
}

function open(dir: string) {
  return createEventStore<Counter, Step>({
    dir: path.join(dir, 'events', 'counter'),
    logger: silentLogger,
    initial: () => ({ n: 0, keys: [] }),
    apply: (state, event) => {
      state.n = event.n;
      state.keys.push(event.key);
    },
  });
}

/** Every stored event in sequence order, read straight from the segment files. */
async function rawEvents(dir: string): Promise<Array<{ seq: number; event: Step }>> {
  const segDir = path.join(dir, 'events', 'counter');
  const out: Array<{ seq: number; event: Step }> = [];
  for (const name of await fs.readdir(segDir)) {
    if (!name.endsWith('.jsonl')) continue;
    const text = await fs.readFile(path.join(segDir, name), 'utf8');
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        out.push(JSON.parse(line) as { seq: number; event: Step });
      } catch {
        // a torn last line from a killed writer
      }
    }
  }
  return out.sort((a, b) => a.seq - b.seq);
}

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'to-events-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('event store', () => {
  it('decides on the latest state, appends nothing when decide throws, and replays on reopen', async () => {
    const store = open(dir);
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        store.transact((s) => ({ event: { n: s.n + 1, key: `k${i}` }, result: s.n + 1 })),
      ),
    );
    expect(results.sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    await expect(
      store.transact(() => {
        throw new AppError('CONFLICT', 'refused');
      }),
    ).rejects.toThrow('refused');
    expect(await store.transact((s) => ({ result: s.n }))).toBe(50);
    await store.close();
    const again = open(dir);
    expect(await again.read((s, version) => ({ n: s.n, version, keys: s.keys.length }))).toEqual({
      n: 50,
      version: 50,
      keys: 50,
    });
    await again.close();
  });

  it('sees what another store instance appended (as another process would)', async () => {
    const a = open(dir);
    const b = open(dir);
    await a.transact((s) => ({ event: { n: s.n + 1, key: 'from-a' }, result: null }));
    await b.transact((s) => ({ event: { n: s.n + 1, key: 'from-b' }, result: null }));
    expect(await a.read((s) => s.keys)).toEqual(['from-a', 'from-b']);
    expect(await b.read((s) => s.n)).toBe(2);
    await a.close();
    await b.close();
  });

  it('misses nothing when many reads run at once while another instance writes', async () => {
    const writer = open(dir);
    const reader = open(dir);
    for (let round = 0; round < 20; round++) {
      await writer.transact((s) => ({ event: { n: s.n + 1, key: `w${round}` }, result: null }));
      // Concurrent catch-ups in one process once double-advanced a segment cursor.
      await Promise.all(Array.from({ length: 8 }, () => reader.read((s) => s.n)));
    }
    expect(await reader.read((s) => s.keys.length)).toBe(20);
    await writer.close();
    await reader.close();
  });

  it('loses no transaction with 4 processes x 250', async () => {
    const runs = [1, 2, 3, 4].map(
      (i) =>
        new Promise<number | null>((resolve) => {
          const child = spawn(process.execPath, [worker, dir, 'events-increment', '250', `w${i}`], {
            stdio: 'inherit',
          });
          child.on('exit', resolve);
        }),
    );
    expect(await Promise.all(runs)).toEqual([0, 0, 0, 0]);
    const events = await rawEvents(dir);
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    // Each writer saw the value before it: n equals seq everywhere, so no update was lost.
    expect(events.every((e) => e.event.n === e.seq)).toBe(true);
    const store = open(dir);
    expect(await store.read((s) => s.n)).toBe(1000);
    await store.close();
  }, 60_000);

  it('keeps every acknowledged transaction across kill -9 and continues the sequence', async () => {
    const children = [1, 2].map((i) =>
      spawn(process.execPath, [worker, dir, 'events-storm', '0', `p${i}`], {
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    );
    const acked: string[] = [];
    for (const child of children)
      child.stdout.on('data', (d: Buffer) => acked.push(...d.toString().split('\n').filter(Boolean)));
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (acked.length >= 300) {
          clearInterval(t);
          resolve();
        }
      }, 20);
    });
    const exits = children.map((c) => new Promise((r) => c.on('exit', r)));
    for (const child of children) child.kill('SIGKILL');
    await Promise.all(exits);

    const store = open(dir);
    const keys = new Set(await store.read((s) => s.keys));
    for (const key of acked.filter((k) => /^p\d-\d+$/.test(k))) expect(keys.has(key), key).toBe(true);
    const before = await store.read((s) => s.n);
    await store.transact((s) => ({ event: { n: s.n + 1, key: 'after-restart' }, result: null }));
    await store.close();
    const events = await rawEvents(dir);
    const seqs = events.map((e) => e.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    expect(events.at(-1)?.event).toEqual({ n: before + 1, key: 'after-restart' });
  }, 60_000);
});
