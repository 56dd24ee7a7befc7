/**
 * The breaker in front of the database, against a port where nothing listens: it opens after three
 * calls in a row that cannot connect, fails at once while open, tries again after a pause that
 * doubles while the database stays away, and closes on the first call that connects.
 */
import net from 'node:net';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import { ConnectFailed, DatabaseGate, isUnreachable } from '../../src/storage/postgres/gate.js';

/** A port nothing listens on (taken, then let go). */
async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('the database breaker', () => {
  it('opens after three unreachable calls, fails at once, backs off while down, closes when a call connects', async () => {
    const port = await deadPort();
    let attempts = 0;
    let reachable = false;
    const connect = async () => {
      attempts++;
      if (reachable) return 'connected';
      const c = new pg.Client({ host: '127.0.0.1', port, user: 'x', connectionTimeoutMillis: 2_000 });
      c.on('error', () => undefined);
      try {
        await c.connect();
        return 'connected';
      } catch (error) {
        throw new ConnectFailed(error);
      } finally {
        await c.end().catch(() => undefined);
      }
    };
    const gate = new DatabaseGate({ logger: silentLogger, baseMs: 300, maxMs: 1_200 });
    for (let i = 0; i < 3; i++) await expect(gate.run(connect)).rejects.toThrow(/ECONNREFUSED/);
    expect(gate.status().state).toBe('open');
    await expect(gate.run(connect)).rejects.toThrow(/unreachable since .* next try at/);
    expect(attempts).toBe(3);
    const pause = (s: ReturnType<DatabaseGate['status']>) => Date.parse(s.next_try_at!) - Date.now();
    expect(pause(gate.status())).toBeLessThanOrEqual(300);
    // After the pause one call tries, fails, and the next pause is twice as long.
    await new Promise((r) => setTimeout(r, 350));
    await expect(gate.run(connect)).rejects.toThrow(/ECONNREFUSED/);
    expect(attempts).toBe(4);
    expect(gate.status().state).toBe('open');
    expect(pause(gate.status())).toBeGreaterThan(400);
    expect(pause(gate.status())).toBeLessThanOrEqual(600);
    // The database is back: the next try connects and the breaker closes, its pause reset.
    reachable = true;
    await new Promise((r) => setTimeout(r, 650));
    await expect(gate.run(connect)).resolves.toBe('connected');
    expect(gate.status()).toEqual({
      state: 'closed',
      failures: 0,
      last_error: expect.any(String) as unknown,
    });
    gate.shutdown();
  });

  it('does not count errors of a database it reached (a constraint, a terminated session)', () => {
    expect(isUnreachable(Object.assign(new Error('duplicate key'), { code: '23505' }))).toBe(false);
    expect(isUnreachable(Object.assign(new Error('terminating connection'), { code: '57P01' }))).toBe(false);
    expect(
      isUnreachable(Object.assign(new Error('the database system is starting up'), { code: '57P03' })),
    ).toBe(true);
    expect(isUnreachable(new ConnectFailed(new Error('password authentication failed')))).toBe(true);
  });
});
