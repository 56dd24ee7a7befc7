/**
 * HTTP mode: the MCP Streamable HTTP transport, so several clients share one server process and
 * one state folder. Every request passes, in order: Host and Origin checks (DNS-rebinding
 * protection, 403), a refusal of tokens in the query string, bearer-JWT authentication (401 with
 * WWW-Authenticate), a per-subject rate limit and concurrency cap (429 with Retry-After), and a
 * body cap (413). Each session has its own MCP server over the shared services; its subject is
 * fixed when it initializes, is the actor of every mutation in it, and a request with another
 * subject's token for that session is refused (a session id is never authentication).
 */
import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { AppError } from '../../core/errors.js';
import { createServer } from '../server.js';
import type { OrchestratorServer } from '../server.js';
import type { Services } from '../services.js';
import type { Authenticator } from './auth.js';

export interface HttpServerOptions {
  host: string;
  port: number;
  /** Host names (without port) requests may address; loopback names are always allowed on loopback. */
  allowedHosts: readonly string[];
  /** Origins browsers may send besides http(s)://<allowed host>:<port>. */
  allowedOrigins: readonly string[];
  maxBodyBytes: number;
  /** Requests per minute per subject. */
  ratePerMinute: number;
  /** Requests in flight per subject. */
  maxConcurrent: number;
  /** How long shutdown waits for calls in flight before cancelling them. */
  shutdownGraceMs: number;
  /** A session unused this long is closed (ms). Default 30 minutes. */
  sessionIdleMs?: number;
  /** Open sessions per subject. Default 16. */
  sessionsPerSubject?: number;
  /** Requests per minute per client address before authentication. Default 120. */
  preAuthRatePerMinute?: number;
}

export interface RunningHttpServer {
  readonly url: string;
  readonly sessions: number;
  close(): Promise<void>;
}

interface Session {
  transport: StreamableHTTPServerTransport;
  server: OrchestratorServer;
  subject: string;
  /** The roles of the token that opened it (a request with a token of other roles is refused). */
  roles: string;
  lastUsed: number;
}

const LOOPBACK = ['127.0.0.1', 'localhost', '::1', '[::1]'];
const QUERY_TOKENS = ['access_token', 'token', 'jwt', 'id_token', 'bearer', 'auth'];

export function isLoopback(host: string): boolean {
  return LOOPBACK.includes(host);
}

/** Token bucket per subject. */
class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(private readonly perMinute: number) {}

  /** 0 when allowed, else seconds to wait. */
  take(subject: string, now = Date.now()): number {
    // Full buckets carry no information: drop them so unique keys cannot grow the map forever.
    if (this.buckets.size > 10_000)
      for (const [key, b] of this.buckets)
        if (b.tokens + (now - b.at) * (this.perMinute / 60_000) >= this.perMinute) this.buckets.delete(key);
    const rate = this.perMinute / 60_000;
    const b = this.buckets.get(subject) ?? { tokens: this.perMinute, at: now };
    b.tokens = Math.min(this.perMinute, b.tokens + (now - b.at) * rate);
    b.at = now;
    this.buckets.set(subject, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / rate / 1000));
  }
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

function jsonRpcError(
  res: ServerResponse,
  status: number,
  code: number,
  message: string,
  headers = {},
): void {
  sendJson(res, status, { jsonrpc: '2.0', error: { code, message }, id: null }, headers);
}

/** Reads a body up to `max` bytes; undefined when it was larger (the connection is answered 413). */
function readBody(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        over = true;
        chunks.length = 0;
        return;
      }
      if (!over) chunks.push(chunk);
    });
    req.on('end', () => resolve(over ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export async function startHttpServer(
  services: Services,
  auth: Authenticator,
  options: HttpServerOptions,
): Promise<RunningHttpServer> {
  const { logger } = services;
  if (!isLoopback(options.host) && options.allowedHosts.length === 0)
    throw new AppError('CONFIG_INVALID', `Binding to ${options.host} needs an explicit allowed-hosts list`, {
      hint: 'Pass --allowed-hosts with the host names clients use (or TASK_ORCHESTRATOR_HTTP_ALLOWED_HOSTS), or bind to 127.0.0.1',
    });
  const sessions = new Map<string, Session>();
  const limiter = new RateLimiter(options.ratePerMinute);
  const preAuthLimiter = new RateLimiter(options.preAuthRatePerMinute ?? 120);
  const sessionIdleMs = options.sessionIdleMs ?? 30 * 60_000;
  const sessionsPerSubject = options.sessionsPerSubject ?? 16;
  const endSession = async (id: string, why: string) => {
    const s = sessions.get(id);
    if (!s) return;
    sessions.delete(id);
    logger.info('http session closed', { subject: s.subject, why });
    await s.transport.close().catch(() => undefined);
    await s.server.close().catch(() => undefined);
  };
  // Idle sessions end; a client that comes back gets 404 and starts a new one (as the protocol says).
  // Time is the services' clock: the sweeper ends them, and so does a request that comes too late.
  const clock = services.clock;
  const idle = (s: Session) => clock.now() - s.lastUsed > sessionIdleMs;
  const sweeper = setInterval(
    () => {
      for (const [id, s] of sessions) if (idle(s)) void endSession(id, 'idle');
    },
    Math.max(1_000, Math.min(60_000, Math.floor(sessionIdleMs / 4))),
  );
  sweeper.unref();
  const inFlight = new Map<string, number>();
  const pending = new Set<Promise<void>>();
  let port = options.port;
  let closing = false;

  const hostAllowed = (hostHeader: string | undefined): boolean => {
    if (!hostHeader) return false;
    const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hostHeader.toLowerCase());
    if (!m) return false;
    const name = m[1]!;
    if (m[2] !== undefined && Number(m[2]) !== port) return false;
    if (options.allowedHosts.includes(name)) return true;
    return isLoopback(options.host) && isLoopback(name);
  };
  const originAllowed = (origin: string | undefined): boolean => {
    if (origin === undefined) return true; // not a browser
    if (options.allowedOrigins.includes(origin)) return true;
    try {
      const u = new URL(origin);
      return (u.protocol === 'http:' || u.protocol === 'https:') && hostAllowed(u.host);
    } catch {
      return false;
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!hostAllowed(req.headers.host)) return sendJson(res, 403, { error: 'forbidden host' });
    if (!originAllowed(req.headers.origin)) return sendJson(res, 403, { error: 'forbidden origin' });
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/mcp') return sendJson(res, 404, { error: 'not found; the MCP endpoint is /mcp' });
    const challenge = (reason: string) =>
      sendJson(
        res,
        401,
        { error: 'unauthorized', reason },
        {
          'www-authenticate': `Bearer realm="task-orchestrator", error="invalid_token", error_description="${reason.replace(/"/g, "'")}"`,
        },
      );
    // Requests that do not authenticate spend a budget of their address: guessing costs time.
    const address = req.socket.remoteAddress ?? 'unknown';
    const unauthenticated = (reason: string) => {
      const wait = preAuthLimiter.take(address);
      if (wait === 0) return challenge(reason);
      return jsonRpcError(
        res,
        429,
        -32000,
        `Too many unauthenticated requests: ${options.preAuthRatePerMinute ?? 120} per minute per address (TASK_ORCHESTRATOR_HTTP_PREAUTH_RATE)`,
        { 'retry-after': String(wait) },
      );
    };
    if (QUERY_TOKENS.some((k) => url.searchParams.has(k)))
      return unauthenticated('tokens in the query string are refused; send Authorization: Bearer <token>');
    const who = await auth.verify(req.headers.authorization);
    if (!who.ok) return unauthenticated(who.reason);
    const subject = who.subject;
    if (closing) return jsonRpcError(res, 503, -32000, 'Server is shutting down', { 'retry-after': '5' });
    const wait = limiter.take(subject);
    if (wait > 0)
      return jsonRpcError(res, 429, -32000, `Rate limit: ${options.ratePerMinute} requests per minute`, {
        'retry-after': String(wait),
      });
    // Calls (POST) count against the concurrency cap; a GET is the long-lived notification stream.
    const counted = req.method === 'POST';
    if (counted && (inFlight.get(subject) ?? 0) >= options.maxConcurrent)
      return jsonRpcError(res, 429, -32000, `Too many requests in flight (limit ${options.maxConcurrent})`, {
        'retry-after': '1',
      });
    if (counted) inFlight.set(subject, (inFlight.get(subject) ?? 0) + 1);
    try {
      let body: unknown;
      if (req.method === 'POST') {
        const declared = Number(req.headers['content-length'] ?? 0);
        if (declared > options.maxBodyBytes)
          return jsonRpcError(res, 413, -32000, `Request body over ${options.maxBodyBytes} bytes`, {
            connection: 'close',
          });
        const raw = await readBody(req, options.maxBodyBytes);
        if (raw === undefined)
          return jsonRpcError(res, 413, -32000, `Request body over ${options.maxBodyBytes} bytes`, {
            connection: 'close',
          });
        try {
          body = JSON.parse(raw.toString('utf8'));
        } catch {
          return jsonRpcError(res, 400, -32700, 'Parse error: the body is not JSON');
        }
      }
      const sessionId = req.headers['mcp-session-id'];
      if (typeof sessionId === 'string') {
        const session = sessions.get(sessionId);
        if (session && idle(session)) await endSession(sessionId, 'idle');
        if (!session || !sessions.has(sessionId)) return jsonRpcError(res, 404, -32001, 'Session not found');
        if (session.subject !== subject)
          return jsonRpcError(res, 403, -32000, 'This session belongs to another subject');
        if (session.roles !== who.roles.join(','))
          return jsonRpcError(
            res,
            403,
            -32000,
            'This session was opened with a token of other roles; open a new one',
          );
        session.lastUsed = clock.now();
        await session.transport.handleRequest(req, res, body);
        return;
      }
      if (req.method !== 'POST' || !isInitializeRequest(body))
        return jsonRpcError(res, 400, -32000, 'Bad request: no session id, and not an initialize request');
      const open = [...sessions.values()].filter((s) => s.subject === subject).length;
      if (open >= sessionsPerSubject)
        return jsonRpcError(
          res,
          429,
          -32000,
          `${subject} has ${open} open sessions; the limit is ${sessionsPerSubject} (TASK_ORCHESTRATOR_HTTP_SESSIONS_PER_SUBJECT). End one with DELETE, or wait for idle ones to expire`,
          { 'retry-after': '60' },
        );
      const server = createServer(services, { actor: subject, roles: who.roles });
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => {
          sessions.set(id, { transport, server, subject, roles: who.roles.join(','), lastUsed: clock.now() });
        },
        onsessionclosed: (id) => {
          sessions.delete(id);
          void server.close().catch(() => undefined);
        },
      });
      transport.onclose = () => {
        if (transport.sessionId) sessions.delete(transport.sessionId);
      };
      await server.connect(transport);
      await transport.handleRequest(req, res, body);
    } finally {
      if (counted) release(subject);
    }
  };
  const release = (subject: string) => {
    const n = (inFlight.get(subject) ?? 1) - 1;
    if (n <= 0) inFlight.delete(subject);
    else inFlight.set(subject, n);
  };

  const http: Server = createHttpServer((req, res) => {
    const job = handle(req, res)
      .catch((error: unknown) => {
        logger.error('http request failed', { error, method: req.method });
        jsonRpcError(res, 500, -32603, 'Internal error');
      })
      .finally(() => pending.delete(job));
    // Calls are what shutdown waits for; a GET is a notification stream that only ends at close.
    if (req.method === 'POST') pending.add(job);
  });
  http.headersTimeout = 10_000;
  http.requestTimeout = 120_000;
  http.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port, options.host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  port = (http.address() as AddressInfo).port;
  const shown = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${shown}:${port}/mcp`,
    get sessions() {
      return sessions.size;
    },
    async close() {
      closing = true;
      clearInterval(sweeper);
      http.close();
      // Calls in flight may finish within the grace period; then every session is closed, which
      // cancels what is still running.
      const grace = new Promise((resolve) => setTimeout(resolve, options.shutdownGraceMs).unref());
      await Promise.race([Promise.all([...pending]), grace]);
      for (const s of sessions.values()) {
        await s.transport.close().catch(() => undefined);
        await s.server.close().catch(() => undefined);
      }
      sessions.clear();
      http.closeAllConnections();
    },
  };
}
