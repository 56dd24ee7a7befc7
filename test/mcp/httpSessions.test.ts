/**
 * HTTP mode in process, on the services' clock: an idle session ends when the clock passes its
 * idle window (no waiting for real time), and its client then gets 404 and may open a new one.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Authenticator, mintToken } from '../../src/mcp/http/auth.js';
import { startHttpServer } from '../../src/mcp/http/httpServer.js';
import type { RunningHttpServer } from '../../src/mcp/http/httpServer.js';
import { startHarness } from '../helpers/harness.js';
import type { Harness } from '../helpers/harness.js';

const SECRET = 'test-secret-0123456789abcdef0123456789abcdef';
const authConfig = {
  secret: SECRET,
  jwksUrl: undefined,
  issuer: 'task-orchestrator',
  audience: 'task-orchestrator',
};
let h: Harness | undefined;
let http: RunningHttpServer | undefined;
afterEach(async () => {
  await http?.close();
  await h?.close();
  http = undefined;
  h = undefined;
});

const initialize = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } },
};

describe('HTTP sessions', () => {
  it('end when the clock passes their idle window; the client then starts a new one', async () => {
    let now = Date.now();
    h = await startHarness({ clock: { now: () => now } });
    http = await startHttpServer(h.services, new Authenticator(authConfig), {
      host: '127.0.0.1',
      port: 0,
      allowedHosts: [],
      allowedOrigins: [],
      maxBodyBytes: 1 << 20,
      ratePerMinute: 600,
      maxConcurrent: 8,
      shutdownGraceMs: 1000,
      sessionIdleMs: 60_000,
      sessionsPerSubject: 1,
    });
    const { token } = await mintToken(authConfig, 'erin', 600);
    const headers = {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    };
    const post = (body: unknown, extra: Record<string, string> = {}) =>
      fetch(http!.url, {
        method: 'POST',
        headers: { ...headers, ...extra },
        body: JSON.stringify(body),
      });
    const first = await post(initialize);
    expect(first.status).toBe(200);
    const session = first.headers.get('mcp-session-id')!;
    await first.text();
    const inSession = { 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' };
    // One session per subject here: a second is refused while the first is live.
    expect((await post(initialize)).status).toBe(429);
    // Used within the window, it lives on.
    now += 50_000;
    const used = await post({ jsonrpc: '2.0', id: 2, method: 'ping' }, inSession);
    expect(used.status).toBe(200);
    await used.text();
    // Past the window since its last use: gone, and erin may open a new one.
    now += 61_000;
    expect((await post({ jsonrpc: '2.0', id: 3, method: 'ping' }, inSession)).status).toBe(404);
    const again = await post(initialize);
    expect(again.status).toBe(200);
    await again.text();
  });
});
