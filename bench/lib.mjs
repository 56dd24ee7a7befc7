/**
 * Shared benchmark helpers. Measure ratios within one run: these machines are noisy, so absolute
 * times move between runs while ratios to a baseline measured alongside stay meaningful.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const cliPath = path.join(root, 'dist', 'cli.js');
export const echoPath = path.join(root, 'bench', 'fixtures', 'echoServer.mjs');

export function tempDir(prefix = 'to-bench-') {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Starts a stdio server and connects a real SDK client. Returns the time to initialize too. */
export async function connectStdio({ args, env = {}, cwd }) {
  const t0 = performance.now();
  const transport = new StdioClientTransport({
    command: process.execPath,
    args,
    cwd,
    env: { PATH: process.env.PATH ?? '', ...env },
    stderr: 'ignore',
  });
  const client = new Client({ name: 'bench', version: '1' });
  await client.connect(transport);
  const initializedMs = performance.now() - t0;
  return { client, initializedMs, t0, close: () => client.close() };
}

export function startOrchestrator(env = {}) {
  const state = tempDir('to-bench-state-');
  return connectStdio({
    args: [cliPath, 'serve'],
    env: { TASK_ORCHESTRATOR_HOME: state.dir, TASK_ORCHESTRATOR_LOG_LEVEL: 'warn', ...env },
    cwd: state.dir,
  }).then((c) => ({ ...c, stateDir: state.dir, close: async () => (await c.close(), state.remove()) }));
}

/** `task-orchestrator dashboard` as its own process, with `env` added to a bare environment. */
export async function startDesk(env) {
  const child = spawn(process.execPath, [cliPath, 'dashboard', '--port', '0'], {
    env: { PATH: process.env.PATH ?? '', TASK_ORCHESTRATOR_CLAUDE_CLI: 'off', ...env },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d) => (out += d));
  for (let i = 0; i < 400 && !/review desk/.test(out); i++) await new Promise((r) => setTimeout(r, 50));
  const base = /http:\/\/127\.0\.0\.1:\d+/.exec(out)?.[0];
  if (!base) throw new Error(`dashboard did not start: ${out}`);
  return {
    base,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', resolve);
        child.kill('SIGTERM');
      }),
  };
}

export function startEcho() {
  return connectStdio({ args: [echoPath] });
}

export function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export function median(values) {
  return percentile(values, 50);
}

/** Times `n` sequential calls after `warmup` unmeasured ones; returns milliseconds per call. */
export async function timeCalls(client, name, args, n, warmup = 50) {
  for (let i = 0; i < warmup; i++) await client.callTool({ name, arguments: args });
  const times = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const r = await client.callTool({ name, arguments: args });
    times.push(performance.now() - t);
    if (r.isError) throw new Error(`${name} failed during benchmark: ${JSON.stringify(r.content)}`);
  }
  return times;
}

/**
 * Interleaves blocks of calls on two clients so both see the same machine noise.
 * Returns { a: ms[], b: ms[] }.
 */
export async function timeInterleaved(a, b, { blocks = 10, perBlock = 100 } = {}) {
  const out = { a: [], b: [] };
  for (let i = 0; i < blocks; i++) {
    out.a.push(...(await timeCalls(a.client, a.name, a.args, perBlock, i === 0 ? 50 : 5)));
    out.b.push(...(await timeCalls(b.client, b.name, b.args, perBlock, i === 0 ? 50 : 5)));
  }
  return out;
}

export const fmt = (x, digits = 2) =>
  typeof x === 'number' ? Number(x.toFixed(digits)).toString() : String(x);

/**
 * Fills a state folder's failure memory with n patterns (imported in batches through the same
 * event store a server writes), each from `fields(i)`: {text, operation, failure_type}.
 */
export async function seedPatterns(stateDir, n, fields, database) {
  const dist = (...p) => pathToFileURL(path.join(root, 'dist', ...p)).href;
  const { ImmuneSystem } = await import(dist('immune', 'immuneSystem.js'));
  const { openStorage } = await import(dist('storage', 'storage.js'));
  const { createLogger } = await import(dist('core', 'logger.js'));
  const storage = await openStorage({
    stateDir,
    logger: createLogger({ level: 'error', write: () => {} }),
    ...(database ? { database } : {}),
  });
  // Written as another process would leave it: the log only, no match index (a reader's first
  // look replays it and writes one; the hooks suite measures that apart).
  const immune = new ImmuneSystem(storage, { now: () => Date.now() }, { matchIndex: false });
  const at = new Date().toISOString();
  for (let i = 0; i < n; i += 500) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + 500); j++) {
      const f = fields(j);
      batch.push({
        project: 'bench',
        pattern_id: `pat_${j}`,
        operation: f.operation,
        failure_type: f.failure_type,
        prompt_summary: f.text,
        output_summary: '',
        text: f.text,
        occurrences: 1,
        saves: 0,
        strength: 1,
        strength_at: at,
        first_seen: at,
        last_seen: at,
        updated_at: at,
      });
    }
    await immune.importPatterns(batch);
  }
  await storage.close();
}
