/**
 * HTTP mode end to end: `serve --http` as a child process, a table of authentication and header
 * cases through real HTTP requests, real SDK clients over Streamable HTTP running a task flow with
 * their subjects recorded as actors, limits, session ownership and DELETE, key hygiene, SIGTERM.
 */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { exportJWK, importPKCS8, SignJWT, UnsecuredJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { useWorkFolder } from './children.js';
import { track } from '../helpers/processes.js';

const cli = path.resolve(import.meta.dirname, '../../dist/cli.js');
const SECRET = 'test-secret-0123456789abcdef0123456789abcdef';
const enc = new TextEncoder().encode(SECRET);

interface Running {
  child: ChildProcessWithoutNullStreams;
  url: string;
  stderr: () => string;
  exited: Promise<number | null>;
}

const folder = useWorkFolder<Running>('to-http-');
const started = folder.started;

async function start(env: Record<string, string> = {}, args: string[] = []): Promise<Running> {
  const child = track(
    spawn(process.execPath, [cli, 'serve', '--http', '--port', '0', ...args], {
      cwd: folder.dir,
      env: {
        PATH: process.env.PATH ?? '',
        JWT_SECRET_KEY: SECRET,
        TASK_ORCHESTRATOR_CLAUDE_CLI: 'off',
        TASK_ORCHESTRATOR_LOG_LEVEL: 'debug',
        ...env,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    }),
  );
  let stderr = '';
  child.stderr.setEncoding('utf8');
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (d: string) => {
      stderr += d;
      const m = /MCP over HTTP at (http:\/\/\S+)/.exec(stderr);
      if (m) resolve(m[1]!);
    });
    void exited.then((code) => reject(new Error(`server exited ${code}: ${stderr}`)));
  });
  const running = { child, url, stderr: () => stderr, exited };
  started.push(running);
  return running;
}

function token(
  claims: { sub?: string; iss?: string; aud?: string; exp?: number; nbf?: number; roles?: string[] } = {},
  alg = 'HS256',
  key: Uint8Array = enc,
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT(claims.roles ? { roles: claims.roles } : {})
    .setProtectedHeader({ alg })
    .setIssuer(claims.iss ?? 'task-orchestrator')
    .setAudience(claims.aud ?? 'task-orchestrator')
    .setIssuedAt(now)
    .setExpirationTime(claims.exp ?? now + 600);
  if (claims.sub !== '') jwt.setSubject(claims.sub ?? 'alice');
  if (claims.nbf) jwt.setNotBefore(claims.nbf);
  return jwt.sign(key);
}

const INIT = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};

/** A POST through node:http, which (unlike fetch) lets a test set the Host header. */
function postWithHost(url: string, host: string, bearer: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const body = JSON.stringify(INIT);
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: 'POST',
        headers: {
          host,
          authorization: `Bearer ${bearer}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function post(
  url: string,
  headers: Record<string, string>,
  body: unknown = INIT,
): Promise<{ status: number; headers: Headers; text: string }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

async function client(url: string, bearer: string): Promise<Client> {
  const c = new Client({ name: 'http-test', version: '1' });
  await c.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      requestInit: { headers: { authorization: `Bearer ${bearer}` } },
    }),
  );
  return c;
}

describe('HTTP mode', () => {
  it('refuses every bad credential or header with the right status', async () => {
    const s = await start();
    const now = Math.floor(Date.now() / 1000);
    const good = await token();
    const [h, p] = good.split('.');
    const cases: Array<[string, Record<string, string>, number, RegExp?]> = [
      ['no token', {}, 401, /missing bearer token/],
      ['not a bearer', { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }, 401, /malformed/],
      [
        'alg none',
        {
          authorization: `Bearer ${new UnsecuredJWT({ sub: 'alice' }).setIssuer('task-orchestrator').setAudience('task-orchestrator').setExpirationTime('10m').encode()}`,
        },
        401,
      ],
      [
        'wrong algorithm',
        { authorization: `Bearer ${await token({}, 'HS512')}` },
        401,
        /algorithm not allowed/,
      ],
      ['bad signature', { authorization: `Bearer ${h}.${p}.${'A'.repeat(43)}` }, 401, /bad signature/],
      [
        'other secret',
        { authorization: `Bearer ${await token({}, 'HS256', new TextEncoder().encode('x'.repeat(40)))}` },
        401,
        /bad signature/,
      ],
      ['expired', { authorization: `Bearer ${await token({ exp: now - 60 })}` }, 401, /expired/],
      ['not yet valid', { authorization: `Bearer ${await token({ nbf: now + 600 })}` }, 401, /not yet valid/],
      [
        'wrong audience',
        { authorization: `Bearer ${await token({ aud: 'someone-else' })}` },
        401,
        /wrong audience/,
      ],
      ['wrong issuer', { authorization: `Bearer ${await token({ iss: 'evil' })}` }, 401, /wrong issuer/],
      ['no subject', { authorization: `Bearer ${await token({ sub: '' })}` }, 401],
      [
        'foreign origin',
        { authorization: `Bearer ${good}`, origin: 'https://evil.example' },
        403,
        /forbidden origin/,
      ],
      ['good', { authorization: `Bearer ${good}` }, 200],
      ['own origin', { authorization: `Bearer ${good}`, origin: new URL(s.url).origin }, 200],
    ];
    for (const [name, headers, status, body] of cases) {
      const r = await post(s.url, headers);
      expect(r.status, name).toBe(status);
      if (status === 401)
        expect(r.headers.get('www-authenticate'), name).toMatch(
          /^Bearer realm="task-orchestrator", error="invalid_token"/,
        );
      if (body) expect(r.text, name).toMatch(body);
    }
    // DNS rebinding: a request addressed to another host name (or another port) is refused.
    const port = new URL(s.url).port;
    for (const host of [
      'evil.example',
      `evil.example:${port}`,
      '127.0.0.1:1',
      `localhost.evil.example:${port}`,
    ]) {
      const r = await postWithHost(s.url, host, good);
      expect(r.status, host).toBe(403);
      expect(r.text).toMatch(/forbidden host/);
    }
    expect((await postWithHost(s.url, `localhost:${port}`, good)).status).toBe(200);
    // A token in the query string is refused even when it is valid.
    const q = await post(`${s.url}?access_token=${good}`, {});
    expect(q.status).toBe(401);
    expect(q.text).toMatch(/query string/);
    // Neither the secret nor a token reaches the log.
    expect(s.stderr()).not.toContain(SECRET);
    expect(s.stderr()).not.toContain(good);
  });

  it('runs a task flow for two clients and records each subject as the actor', async () => {
    const s = await start();
    const alice = await client(s.url, await token({ sub: 'alice' }));
    const bob = await client(s.url, await token({ sub: 'bob' }));
    const added = (await alice.callTool({
      name: 'tasks_add',
      arguments: { tasks: [{ title: 'Shared task' }] },
    })) as CallToolResult;
    expect(added.isError).toBeFalsy();
    const id = (added.structuredContent as { added: Array<{ task: { id: string } }> }).added[0]!.task.id;
    const loaded = (await bob.callTool({
      name: 'request_tool',
      arguments: { category: 'task' },
    })) as CallToolResult;
    expect(loaded.isError, JSON.stringify(loaded.content)).toBeFalsy();
    const startedTask = (await bob.callTool({
      name: 'tasks_start',
      arguments: { task_id: id },
    })) as CallToolResult;
    expect(startedTask.isError, JSON.stringify(startedTask.content)).toBeFalsy();
    const list = (await alice.callTool({ name: 'tasks_list', arguments: {} })) as CallToolResult;
    expect((list.structuredContent as { tasks: Array<{ id: string; status: string }> }).tasks).toEqual([
      expect.objectContaining({ id, status: 'active' }),
    ]);
    const history = (await bob.callTool({
      name: 'tasks_history',
      arguments: { task_id: id },
    })) as CallToolResult;
    const actors = (history.structuredContent as { entries: Array<{ actor: string }> }).entries.map(
      (e) => e.actor,
    );
    expect(actors).toEqual(expect.arrayContaining(['alice', 'bob']));
    await alice.close();
    await bob.close();
  });

  it('binds a session to its subject, ends it on DELETE, and caps bodies and rates', async () => {
    const s = await start({
      TASK_ORCHESTRATOR_HTTP_MAX_BODY: '4096',
      TASK_ORCHESTRATOR_HTTP_RATE: '20',
      TASK_ORCHESTRATOR_HTTP_SESSIONS_PER_SUBJECT: '100',
    });
    const alice = await token({ sub: 'alice' });
    const init = await post(s.url, { authorization: `Bearer ${alice}` });
    const session = init.headers.get('mcp-session-id')!;
    expect(session).toMatch(/^[0-9a-f-]{36}$/);
    const ping = { jsonrpc: '2.0', id: 2, method: 'ping' };
    const withSession = (bearer: string) => ({
      authorization: `Bearer ${bearer}`,
      'mcp-session-id': session,
      'mcp-protocol-version': '2025-06-18',
    });
    expect((await post(s.url, withSession(alice), ping)).status).toBe(200);
    const stolen = await post(s.url, withSession(await token({ sub: 'mallory' })), ping);
    expect(stolen.status).toBe(403);
    expect(stolen.text).toMatch(/another subject/);
    const big = await post(s.url, withSession(alice), { ...ping, params: { pad: 'x'.repeat(10_000) } });
    expect(big.status).toBe(413);
    const del = await fetch(s.url, { method: 'DELETE', headers: withSession(alice) });
    expect(del.status).toBe(200);
    expect((await post(s.url, withSession(alice), ping)).status).toBe(404);
    // 20 requests a minute for carol: the next ones are refused with a Retry-After.
    const carol = await token({ sub: 'carol' });
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 24; i++) {
      const r = await post(s.url, { authorization: `Bearer ${carol}` });
      statuses.push(r.status);
      if (r.status === 429) retryAfter = r.headers.get('retry-after');
    }
    expect(statuses.filter((x) => x === 200)).toHaveLength(20);
    expect(statuses.slice(20)).toEqual([429, 429, 429, 429]);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    // Another subject is not affected by carol's limit.
    expect((await post(s.url, { authorization: `Bearer ${await token({ sub: 'dave' })}` })).status).toBe(200);
  });

  it('caps sessions per subject and limits unauthenticated requests per address', async () => {
    const s = await start({
      TASK_ORCHESTRATOR_HTTP_SESSIONS_PER_SUBJECT: '2',
      TASK_ORCHESTRATOR_HTTP_PREAUTH_RATE: '5',
    });
    const erin = { authorization: `Bearer ${await token({ sub: 'erin' })}` };
    const first = await post(s.url, erin);
    expect(first.status).toBe(200);
    expect((await post(s.url, erin)).status).toBe(200);
    const third = await post(s.url, erin);
    expect(third.status).toBe(429);
    expect(third.text).toMatch(/2 open sessions.*TASK_ORCHESTRATOR_HTTP_SESSIONS_PER_SUBJECT/);
    // Guessing tokens: five refusals a minute per address, then 429 with Retry-After.
    const guesses: number[] = [];
    for (let i = 0; i < 7; i++)
      guesses.push((await post(s.url, { authorization: `Bearer guess${i}` })).status);
    expect(guesses).toEqual([401, 401, 401, 401, 401, 429, 429]);
    expect((await post(s.url, {})).status).toBe(429);
    // A valid token from the same address is not held back by the guesses.
    expect((await post(s.url, { authorization: `Bearer ${await token({ sub: 'frank' })}` })).status).toBe(
      200,
    );
    // Idle sessions end on the services' clock: test/mcp/httpSessions.test.ts (no waiting for real time).
  });

  it('keeps the token subject as the actor (an actor argument only labels it) and lets only another subject with the approver role approve', async () => {
    const s = await start({ TASK_ORCHESTRATOR_TOOLS: 'all' });
    // Alice and Bob are people (their tokens carry the approver role); the agent's token does not.
    const alice = await client(s.url, await token({ sub: 'alice', roles: ['approver'] }));
    const bob = await client(s.url, await token({ sub: 'bob', roles: ['approver'] }));
    const agent = await client(s.url, await token({ sub: 'ci-agent', roles: ['admin'] }));
    const added = (await alice.callTool({
      name: 'tasks_add',
      arguments: { tasks: [{ title: 'Labelled' }], actor: 'bob' },
    })) as CallToolResult;
    const id = (added.structuredContent as { added: Array<{ task: { id: string } }> }).added[0]!.task.id;
    const history = (await alice.callTool({
      name: 'tasks_history',
      arguments: { task_id: id },
    })) as CallToolResult;
    expect(
      (history.structuredContent as { entries: Array<{ actor: string }> }).entries.map((e) => e.actor),
    ).toEqual(['alice (bob)']);
    const asked = (await alice.callTool({
      name: 'run_with_error_capture',
      arguments: { command: 'git', args: ['clean', '-f'] },
    })) as CallToolResult;
    const action = (asked.structuredContent as { action_id: string }).action_id;
    const own = (await alice.callTool({
      name: 'approve_action',
      arguments: { action_id: action, approve: true },
    })) as CallToolResult;
    expect(own.isError).toBe(true);
    expect(JSON.stringify(own.content)).toMatch(
      /FORBIDDEN.*cannot be approved by the session or actor that requested it/,
    );
    const byAgent = (await agent.callTool({
      name: 'approve_action',
      arguments: { action_id: action, approve: true },
    })) as CallToolResult;
    expect(byAgent.isError).toBe(true);
    expect(JSON.stringify(byAgent.content)).toMatch(/FORBIDDEN.*ci-agent may not approve .*no approver role/);
    // Anyone may reject; the agent's attempt left it pending for a person.
    const still = (await agent.callTool({ name: 'inbox_status', arguments: {} })) as CallToolResult;
    expect(JSON.stringify(still.structuredContent)).toMatch(/"status":"pending"/);
    const other = (await bob.callTool({
      name: 'approve_action',
      arguments: { action_id: action, approve: true },
    })) as CallToolResult;
    expect(other.isError, JSON.stringify(other.content)).toBeFalsy();
    expect(other.structuredContent).toMatchObject({ item: { decided_by: 'bob', decided_via: 'mcp' } });
    await alice.close();
    await bob.close();
    await agent.close();
  });

  it('accepts tokens signed by a JWKS key and refuses the HS256 secret then', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    const jwks = createServer((_req, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })),
    );
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    const jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`;
    const s = await start({ JWT_SECRET_KEY: '', TASK_ORCHESTRATOR_JWKS_URL: jwksUrl });
    const key = await importPKCS8(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 'RS256');
    const now = Math.floor(Date.now() / 1000);
    const rs = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setSubject('erin')
      .setIssuer('task-orchestrator')
      .setAudience('task-orchestrator')
      .setExpirationTime(now + 600)
      .sign(key);
    expect((await post(s.url, { authorization: `Bearer ${rs}` })).status).toBe(200);
    expect((await post(s.url, { authorization: `Bearer ${await token()}` })).status).toBe(401);
    await new Promise<void>((resolve) => jwks.close(() => resolve()));
  });

  it('refuses to start without a secret, off loopback without allowed hosts, or with a short secret', async () => {
    const run = (env: Record<string, string>, args: string[] = []) =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = track(
          spawn(process.execPath, [cli, 'serve', '--http', '--port', '0', ...args], {
            cwd: folder.dir,
            env: { PATH: process.env.PATH ?? '', TASK_ORCHESTRATOR_CLAUDE_CLI: 'off', ...env },
          }),
        );
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('exit', (code) => resolve({ code, stderr }));
      });
    const none = await run({});
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/needs JWT_SECRET_KEY or TASK_ORCHESTRATOR_JWKS_URL/);
    const wide = await run({ JWT_SECRET_KEY: SECRET }, ['--host', '0.0.0.0']);
    expect(wide.code).toBe(1);
    expect(wide.stderr).toMatch(/--allowed-hosts/);
    const short = await run({ JWT_SECRET_KEY: 'short' });
    expect(short.stderr).toMatch(/JWT_SECRET_KEY must be at least 32 characters/);
  });

  it('mints a token the server accepts, and shuts down cleanly on SIGTERM', async () => {
    const s = await start();
    const minted = await new Promise<string>((resolve, reject) => {
      const child = track(
        spawn(process.execPath, [cli, 'token', '--sub', 'frank', '--ttl', '5m'], {
          env: { PATH: process.env.PATH ?? '', JWT_SECRET_KEY: SECRET },
        }),
      );
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.on('exit', (code) =>
        code === 0 ? resolve(out.trim()) : reject(new Error(`token exited ${code}`)),
      );
    });
    const c = await client(s.url, minted);
    expect(
      (await c.callTool({ name: 'tasks_add', arguments: { tasks: [{ title: 'before shutdown' }] } })).isError,
    ).toBeFalsy();
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
    // The next server on the same state folder sees the task.
    const next = await start();
    const c2 = await client(next.url, minted);
    const list = (await c2.callTool({ name: 'tasks_list', arguments: {} })) as CallToolResult;
    expect((list.structuredContent as { tasks: Array<{ title: string }> }).tasks.map((t) => t.title)).toEqual(
      ['before shutdown'],
    );
    await c2.close();
  });
});
