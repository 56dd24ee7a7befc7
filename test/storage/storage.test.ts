import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/logger.js';
import type { Logger } from '../../src/core/logger.js';
import { openStorage } from '../../src/storage/storage.js';

const worker = path.join(import.meta.dirname, 'fixtures', 'storageWorker.mjs');

function captureLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({
    level: 'debug',
    write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>),
  });
  return { logger, lines };
}

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [worker, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'to-storage-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('document store', () => {
  it("never shows a reader an empty document while it reloads another process's write and writes its own", async () => {
    const { logger } = captureLogger();
    const a = await openStorage({ stateDir: dir, logger });
    const b = await openStorage({ stateDir: dir, logger });
    const docA = a.document<{ items: number[] }>('race', { items: [] });
    const docB = b.document<{ items: number[] }>('race', { items: [] });
    await docA.update((d) => void d.items.push(0));
    let count = 1;
    for (let i = 0; i < 40; i++) {
      await docB.update((d) => void d.items.push(-1)); // another process changed the file
      count++;
      const floor = count;
      // This process reloads it (first read), writes (update) and reads again, all at once.
      const seen = await Promise.all([
        docA.read((d) => d.items.length),
        docA.update((d) => void d.items.push(i)).then(() => docA.read((d) => d.items.length)),
        docA.read((d) => d.items.length),
        new Promise<number>((r) => setImmediate(() => void docA.read((d) => d.items.length).then(r))),
      ]);
      count++;
      expect(Math.min(...seen), `round ${i}: ${seen.join(', ')}`).toBeGreaterThanOrEqual(floor);
    }
    await a.close();
    await b.close();
    const again = await openStorage({ stateDir: dir, logger });
    expect(await again.document<{ items: number[] }>('race', { items: [] }).read((d) => d.items.length)).toBe(
      count,
    );
    await again.close();
  });

  it('writes to disk even under NODE_ENV=test, and reads it back in a new instance', async () => {
    expect(process.env.NODE_ENV).toBe('test');
    const { logger } = captureLogger();
    const a = await openStorage({ stateDir: dir, logger });
    await a.document('things', { items: [] as string[] }).update((d) => d.items.push('one'));
    await a.close();
    const text = await fs.readFile(path.join(dir, 'things.json'), 'utf8');
    expect(JSON.parse(text)).toEqual({ items: ['one'] });
    const b = await openStorage({ stateDir: dir, logger });
    expect(await b.document('things', { items: [] as string[] }).read((d) => d.items)).toEqual(['one']);
  });

  it('coalesces a burst of updates into few writes, each acknowledged', async () => {
    const { logger } = captureLogger();
    const s = await openStorage({ stateDir: dir, logger });
    const doc = s.document('burst', { n: 0 });
    const results = await Promise.all(Array.from({ length: 500 }, () => doc.update((d) => ++d.n)));
    expect(results.sort((x, y) => x - y)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    expect(doc.writeCount).toBeLessThanOrEqual(3);
    expect(await doc.read((d) => d.n)).toBe(500);
  });

  it('discards the changes of a mutation that throws and keeps the others', async () => {
    const { logger } = captureLogger();
    const s = await openStorage({ stateDir: dir, logger });
    const doc = s.document('partial', { list: [] as number[] });
    const ok1 = doc.update((d) => d.list.push(1));
    const bad = doc.update((d) => {
      d.list.push(666);
      throw new Error('validation failed');
    });
    const ok2 = doc.update((d) => d.list.push(2));
    await expect(bad).rejects.toThrow('validation failed');
    await Promise.all([ok1, ok2]);
    expect(await doc.read((d) => d.list)).toEqual([1, 2]);
    await s.close();
    expect(JSON.parse(await fs.readFile(path.join(dir, 'partial.json'), 'utf8'))).toEqual({ list: [1, 2] });
  });

  it('recovers a torn file from the last good copy and logs it', async () => {
    const { logger } = captureLogger();
    const s = await openStorage({ stateDir: dir, logger });
    const doc = s.document('torn', { v: 0 });
    await doc.update((d) => void (d.v = 1));
    await doc.update((d) => void (d.v = 2));
    await s.close();
    await fs.writeFile(path.join(dir, 'torn.json'), '{"v": 3, "trunc');
    const cap = captureLogger();
    const s2 = await openStorage({ stateDir: dir, logger: cap.logger });
    expect(await s2.document('torn', { v: 0 }).read((d) => d.v)).toBe(1);
    expect(s2.recoveries).toHaveLength(1);
    expect(s2.recoveries[0]?.action).toBe('backup');
    expect(cap.lines.some((l) => l.level === 'warn' && String(l.msg).includes('last good copy'))).toBe(true);
  });

  it('keeps an unreadable file with no good copy aside and says so, never resetting silently', async () => {
    await fs.writeFile(path.join(dir, 'empty.json'), '');
    const cap = captureLogger();
    const s = await openStorage({ stateDir: dir, logger: cap.logger });
    expect(await s.document('empty', { v: 7 }).read((d) => d.v)).toBe(7);
    const event = s.recoveries[0];
    expect(event?.action).toBe('reset');
    expect(event?.preservedAs).toBeDefined();
    await expect(fs.access(event!.preservedAs!)).resolves.toBeUndefined();
    expect(cap.lines.some((l) => l.level === 'error')).toBe(true);
  });

  it('loses no update with 4 processes x 250 read-modify-write updates', async () => {
    const results = await Promise.all([1, 2, 3, 4].map((i) => run([dir, 'increment', '250', String(i)])));
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(await fs.readFile(path.join(dir, 'counter.json'), 'utf8')) as { value: number };
    expect(doc.value).toBe(1000);
  }, 60_000);

  it('keeps every acknowledged write across kill -9 during a write storm, and restarts cleanly', async () => {
    const children = [1, 2].map((i) =>
      spawn(process.execPath, [worker, dir, 'storm', '0', `p${i}`], { stdio: ['ignore', 'pipe', 'inherit'] }),
    );
    const acked: string[] = [];
    for (const child of children) {
      child.stdout.on('data', (d: Buffer) => acked.push(...d.toString().split('\n').filter(Boolean)));
    }
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (acked.length >= 400) {
          clearInterval(check);
          resolve();
        }
      }, 20);
    });
    const exits = children.map((c) => new Promise((r) => c.on('exit', r)));
    for (const child of children) child.kill('SIGKILL');
    await Promise.all(exits);
    // Lines already printed were acknowledged after the write was durable.
    const complete = acked.filter((k) => /^p\d-\d+$/.test(k));

    // Every file parses (JSONL: all but possibly a torn last line per segment).
    const doc = JSON.parse(await fs.readFile(path.join(dir, 'counter.json'), 'utf8')) as {
      value: number;
      acked: string[];
    };
    const inDoc = new Set(doc.acked);
    for (const key of complete) expect(inDoc.has(key), key).toBe(true);
    expect(doc.value).toBe(doc.acked.length);

    // A restarted process (after the dead lock goes stale) sees everything and writes again.
    const s = await openStorage({ stateDir: dir, logger: captureLogger().logger });
    const events = await s.log<{ key: string }>('events').readAll();
    const inLog = new Set(events.map((e) => e.key));
    for (const key of complete) expect(inLog.has(key), key).toBe(true);
    const counter = s.document('counter', { value: 0, acked: [] as string[] });
    await counter.update((d) => void d.value++);
    expect(await counter.read((d) => d.value)).toBe(doc.value + 1);
    await s.close();
    const leftovers = (await fs.readdir(dir)).filter((n) => /^counter\.json\.\d+$/.test(n));
    expect(leftovers).toEqual([]);
  }, 60_000);
});

describe('append log', () => {
  it('appends, reads back incrementally, and skips a torn last line', async () => {
    const { logger } = captureLogger();
    const s = await openStorage({ stateDir: dir, logger });
    const log = s.log<{ i: number }>('things');
    await Promise.all(Array.from({ length: 100 }, (_, i) => log.append({ i })));
    expect((await log.readAll()).map((r) => r.i)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    await log.append({ i: 100 });
    expect(await log.readAll()).toHaveLength(101);
    await s.close();
    const segDir = path.join(dir, 'logs', 'things');
    const [seg] = await fs.readdir(segDir);
    await fs.appendFile(path.join(segDir, seg!), '{"i": 10');
    await fs.appendFile(path.join(segDir, seg!), '1}\n{"i":');
    const s2 = await openStorage({ stateDir: dir, logger });
    const stats = await s2.log('things').stats();
    expect(stats.records).toBe(102);
    expect(stats.skippedLines).toBe(0);
  });

  it('misses nothing when many reads run at once while another instance appends', async () => {
    const { logger } = captureLogger();
    const a = await openStorage({ stateDir: dir, logger });
    const b = await openStorage({ stateDir: dir, logger });
    for (let i = 0; i < 20; i++) {
      await a.log<{ i: number }>('shared').append({ i });
      await Promise.all(Array.from({ length: 8 }, () => b.log('shared').readAll()));
    }
    expect(await b.log('shared').readAll()).toHaveLength(20);
  });

  it('refuses an oversized record with a hint', async () => {
    const s = await openStorage({ stateDir: dir, logger: captureLogger().logger });
    await expect(s.log('big').append({ text: 'x'.repeat(2 * 1024 * 1024) })).rejects.toThrow(/limit/);
  });
});
