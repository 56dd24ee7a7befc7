/**
 * The stdio server as a process: it ends within a second or two when its client dies (all pipes,
 * stderr included, closed), and an oversized request line is answered with a JSON-RPC error while
 * the session goes on.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useWorkFolder } from './children.js';
import type { Child } from './children.js';
import { track } from '../helpers/processes.js';

const cli = path.resolve(import.meta.dirname, '../../dist/cli.js');
const work = useWorkFolder<Child>('to-proc-');

function startServer(env: Record<string, string> = {}) {
  const child = track(
    spawn(process.execPath, [cli, 'serve'], {
      cwd: work.dir,
      env: { ...process.env, TASK_ORCHESTRATOR_HOME: path.join(work.dir, 'state'), ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    }),
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  work.started.push({ child, exited });
  const lines: Array<Record<string, unknown>> = [];
  let buffer = '';
  child.stdout.on('data', (d: Buffer) => {
    buffer += d.toString('utf8');
    for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
      lines.push(JSON.parse(buffer.slice(0, nl)) as Record<string, unknown>);
      buffer = buffer.slice(nl + 1);
    }
  });
  child.stdout.on('error', () => {});
  child.stderr.on('error', () => {});
  child.stdin.on('error', () => {});
  const send = (message: unknown) => child.stdin.write(`${JSON.stringify(message)}\n`);
  const reply = async (id: number, timeoutMs = 10_000) => {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      const found = lines.find((l) => l.id === id);
      if (found) return found;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`no reply to ${id}`);
  };
  const initialize = async () => {
    send({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: {
        protocolVersion: '2025-06-18',
        capabilities: {},
        clientInfo: { name: 'proc-test', version: '1' },
      },
    });
    await reply(1);
    send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  };
  return { child, exited, send, reply, initialize, lines };
}

describe('stdio server process', () => {
  it('exits within 2 s when its client dies with stderr piped, and on SIGTERM', async () => {
    const s = startServer();
    await s.initialize();
    // Keep stderr busy so writes after the client is gone hit the broken pipe.
    s.send({
      jsonrpc: '2.0',
      id: 2,
      method: 'tools/call',
      params: { name: 'healing_status', arguments: {} },
    });
    await s.reply(2);
    const t0 = Date.now();
    s.child.stdout.destroy();
    s.child.stderr.destroy();
    s.child.stdin.end();
    const code = await Promise.race([s.exited, new Promise((r) => setTimeout(() => r('timeout'), 5_000))]);
    expect(code).not.toBe('timeout');
    expect(Date.now() - t0).toBeLessThan(2_000);

    const t = startServer();
    await t.initialize();
    const t1 = Date.now();
    t.child.kill('SIGTERM');
    expect(await t.exited).toBe(0);
    expect(Date.now() - t1).toBeLessThan(2_000);
  });

  it('answers an oversized request with an error for its id and keeps serving', async () => {
    const s = startServer({ TASK_ORCHESTRATOR_MAX_REQUEST_MB: '1' });
    await s.initialize();
    const big = JSON.stringify({
      jsonrpc: '2.0',
      id: 7,
      method: 'tools/call',
      params: {
        name: 'tasks_add',
        arguments: { tasks: [{ title: 'x', description: 'y'.repeat(2 * 1024 * 1024) }] },
      },
    });
    s.child.stdin.write(`${big}\n`);
    const error = await s.reply(7);
    expect(error).toMatchObject({ id: 7, error: { code: -32600 } });
    expect(JSON.stringify(error)).toMatch(/over the 1048576-byte limit/);
    s.child.stdin.write('not json at all\n');
    s.send({ jsonrpc: '2.0', id: 8, method: 'ping' });
    expect(await s.reply(8)).toMatchObject({ id: 8, result: {} });
    expect(s.lines.some((l) => (l.error as { code?: number } | undefined)?.code === -32700)).toBe(true);
    expect(s.child.exitCode).toBeNull();
  });
});
