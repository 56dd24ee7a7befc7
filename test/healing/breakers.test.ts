import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { BreakerRegistry } from '../../src/healing/breakers.js';
import type { BreakerDoc, Verdict } from '../../src/healing/breakers.js';
import { backoffDelay, DEFAULT_RETRY_POLICY, withRetry } from '../../src/healing/retry.js';
import { openStorage } from '../../src/storage/storage.js';
import type { Storage } from '../../src/storage/storage.js';

let dir: string;
let storage: Storage;
const registries: BreakerRegistry[] = [];

beforeEach(async () => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'to-breakers-'));
  storage = await openStorage({ stateDir: dir, logger: silentLogger });
});
afterEach(async () => {
  for (const r of registries.splice(0)) r.shutdown();
  vi.useRealTimers();
  await storage.close();
  await fs.rm(dir, { recursive: true, force: true });
});

async function registry(s = storage) {
  const r = new BreakerRegistry(
    s.document<BreakerDoc>('breakers', { breakers: {} }),
    systemClock,
    silentLogger,
  );
  await r.load();
  registries.push(r);
  return r;
}

/** A fake provider call: resolves to the given verdict, counting calls. */
function calls() {
  let count = 0;
  return {
    get count() {
      return count;
    },
    run: (verdict: Verdict) => () => {
      count++;
      return Promise.resolve(verdict);
    },
  };
}
const judge = (v: Verdict) => v;

describe('BreakerRegistry', () => {
  it('opens after 3 failures within a minute, however many calls succeeded before them', async () => {
    const r = await registry();
    const c = calls();
    for (let i = 0; i < 5; i++) await r.call('openai/gpt', c.run('ok'), judge);
    for (let i = 0; i < 3; i++) await r.call('openai/gpt', c.run('failure'), judge);
    expect(r.stateOf('openai/gpt')).toBe('open');
    // Failures spread over more than the window do not open it.
    const c2 = calls();
    await r.call('anthropic/claude', c2.run('failure'), judge);
    await r.call('anthropic/claude', c2.run('failure'), judge);
    vi.advanceTimersByTime(61_000);
    await r.call('anthropic/claude', c2.run('failure'), judge);
    expect(r.stateOf('anthropic/claude')).toBe('closed');
    await r.call('anthropic/claude', c2.run('failure'), judge);
    await r.call('anthropic/claude', c2.run('failure'), judge);
    expect(r.stateOf('anthropic/claude')).toBe('open');
  });

  it('opens after 3 failures, fails fast, half-opens after 30 s with one trial, and closes on success', async () => {
    const r = await registry();
    const c = calls();
    for (let i = 0; i < 3; i++)
      expect((await r.call('openai/gpt', c.run('failure'), judge)).kind).toBe('done');
    const rejected = await r.call('openai/gpt', c.run('ok'), judge);
    expect(rejected.kind).toBe('open');
    expect(c.count).toBe(3); // the fourth call never reached the provider
    const open = r.snapshot().find((b) => b.key === 'openai/gpt')!;
    expect(open.state).toBe('open');
    expect(Date.parse(open.next_half_open_at!) - Date.parse(open.opened_at!)).toBe(30_000);

    vi.advanceTimersByTime(30_001);
    expect(r.snapshot()[0]?.state).toBe('half_open');
    // One trial while half-open; a second concurrent call is still rejected.
    let release!: () => void;
    const trial = r.call(
      'openai/gpt',
      () => new Promise<Verdict>((res) => (release = () => res('ok'))),
      judge,
    );
    expect((await r.call('openai/gpt', c.run('ok'), judge)).kind).toBe('open');
    release();
    expect((await trial).kind).toBe('done');
    expect(r.snapshot()[0]?.state).toBe('closed');
  });

  it('reopens when the half-open trial fails', async () => {
    const r = await registry();
    const c = calls();
    for (let i = 0; i < 3; i++) await r.call('gemini/flash', c.run('failure'), judge);
    vi.advanceTimersByTime(30_001);
    await r.call('gemini/flash', c.run('failure'), judge);
    expect(r.snapshot()[0]?.state).toBe('open');
  });

  it('does not count failures that are the caller’s fault (4xx other than 408/429)', async () => {
    const r = await registry();
    const c = calls();
    for (let i = 0; i < 6; i++) await r.call('anthropic/claude', c.run('ignored'), judge);
    expect(r.snapshot()[0]?.state).toBe('closed');
    expect(c.count).toBe(6);
  });

  it('keeps each provider+model apart and restores an open breaker after a restart', async () => {
    const r = await registry();
    const c = calls();
    for (let i = 0; i < 3; i++) await r.call('openai/a', c.run('failure'), judge);
    expect((await r.call('openai/b', c.run('ok'), judge)).kind).toBe('done');
    await storage.close();
    const again = await openStorage({ stateDir: dir, logger: silentLogger });
    const restored = await registry(again);
    expect(restored.snapshot().find((b) => b.key === 'openai/a')?.state).toBe('open');
    const before = c.count;
    expect((await restored.call('openai/a', c.run('ok'), judge)).kind).toBe('open');
    expect(c.count).toBe(before);
    storage = again;
  });
});

describe('retry policy', () => {
  it('backs off exponentially with jitter, capped, and honours Retry-After', () => {
    const p = DEFAULT_RETRY_POLICY;
    expect(backoffDelay(1, p, () => 0)).toBe(1000);
    expect(backoffDelay(1, p, () => 1)).toBe(2000);
    expect(backoffDelay(3, p, () => 1)).toBe(8000);
    expect(backoffDelay(10, p, () => 1)).toBe(60_000);
    expect(backoffDelay(1, p, () => 0, 7000)).toBe(7000);
    expect(backoffDelay(1, p, () => 0, 600_000)).toBe(60_000);
  });

  it('retries transient results up to 5 times, stops at the deadline, and never retries what decide refuses', async () => {
    vi.useRealTimers();
    const slept: number[] = [];
    const sleep = (ms: number) => {
      slept.push(ms);
      return Promise.resolve();
    };
    let n = 0;
    const always = await withRetry(
      () => Promise.resolve(++n),
      () => ({ retry: true }),
      { deadline: Date.now() + 3_600_000, now: Date.now, sleep, random: () => 1 },
    );
    expect(always).toMatchObject({ attempts: 6, gave_up: 'max_retries' });
    expect(slept).toEqual([2000, 4000, 8000, 16000, 32000]);

    const deadline = await withRetry(
      () => Promise.resolve(0),
      () => ({ retry: true, retryAfterMs: 30_000 }),
      {
        deadline: Date.now() + 10_000,
        now: Date.now,
        sleep,
      },
    );
    expect(deadline).toMatchObject({ attempts: 1, gave_up: 'deadline' });

    const never = await withRetry(
      () => Promise.resolve('breaker open'),
      () => ({ retry: false }),
      { deadline: Date.now() + 60_000, now: Date.now, sleep },
    );
    expect(never).toEqual({ value: 'breaker open', attempts: 1 });
  });
});
