/** Starts the real server with a real MCP Client over an in-memory transport, on a temp state folder. */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { prepareStorage, storageEnv } from './storageEnv.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { ClientOptions } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult, JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { expect } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import type { Env } from '../../src/config/config.js';
import { systemClock } from '../../src/core/clock.js';
import type { Clock } from '../../src/core/clock.js';
import { createLogger } from '../../src/core/logger.js';
import { buildCategories } from '../../src/mcp/categories/index.js';
import { createServer } from '../../src/mcp/server.js';
import type { OrchestratorServer, ServerOptions } from '../../src/mcp/server.js';
import { openServices } from '../../src/app/services.js';
import type { ExecBoundary } from '../../src/safety/commandRunner.js';
import type { Services } from '../../src/mcp/services.js';
import type { Category } from '../../src/mcp/tool.js';

export interface Harness {
  client: Client;
  server: OrchestratorServer;
  services: Services;
  stateDir: string;
  /** Every message the server sent, in order. */
  sent: JSONRPCMessage[];
  logs: Array<Record<string, unknown>>;
  call(name: string, args?: Record<string, unknown>): Promise<CallToolResult>;
  close(): Promise<void>;
}

export interface HarnessOptions extends ServerOptions {
  /** Categories added to the built-in ones (for tests of the router itself). */
  extraCategories?: (services: Services) => Category[];
  env?: Env;
  clientOptions?: ClientOptions;
  clock?: Clock;
  stateDir?: string;
  /** The project folder (default: this process's cwd). */
  cwd?: string;
  /** Replaces the process boundary commands run through. */
  execBoundary?: ExecBoundary;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const stateDir = options.stateDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'to-mcp-')));
  await prepareStorage(stateDir);
  const config = loadConfig(
    {
      TASK_ORCHESTRATOR_HOME: stateDir,
      TASK_ORCHESTRATOR_LIST_CHANGED_WAIT_MS: '1000',
      // Judges are on by default for users; suites that script or count provider calls turn them
      // off unless they test judges (test/evaluation/judges.test.ts tests the default itself).
      TASK_ORCHESTRATOR_JUDGE_GRADERS: 'off',
      ...storageEnv(stateDir),
      ...options.env,
    },
    options.cwd ? { cwd: options.cwd } : {},
  );
  const logs: Array<Record<string, unknown>> = [];
  const logger = createLogger({
    level: 'debug',
    secrets: config.secrets,
    write: (line) => logs.push(JSON.parse(line) as Record<string, unknown>),
  });
  const services = await openServices(
    config,
    logger,
    options.clock ?? systemClock,
    options.execBoundary ? { execBoundary: options.execBoundary } : {},
  );
  const server = createServer(services, {
    ...options,
    ...(options.extraCategories
      ? { categories: [...buildCategories(services), ...options.extraCategories(services)] }
      : {}),
  });
  await server.tracker.load();
  const [serverSide, clientSide] = InMemoryTransport.createLinkedPair();
  const sent: JSONRPCMessage[] = [];
  const originalSend = serverSide.send.bind(serverSide);
  serverSide.send = (message, opts) => {
    sent.push(message);
    return originalSend(message, opts);
  };
  const client = new Client({ name: 'test-client', version: '1.0.0' }, options.clientOptions);
  await server.connect(serverSide);
  await client.connect(clientSide);
  return {
    client,
    server,
    services,
    stateDir,
    sent,
    logs,
    call: (name, args = {}) => client.callTool({ name, arguments: args }) as Promise<CallToolResult>,
    async close() {
      await client.close();
      await server.close();
      await services.close();
      if (!options.stateDir) await fs.rm(stateDir, { recursive: true, force: true });
    },
  };
}

export function textOf(result: CallToolResult): string {
  return result.content.map((c) => (c.type === 'text' ? c.text : '')).join('');
}

/** The structuredContent of a successful result (fails the test with the error text otherwise). */
export function sc<T>(r: CallToolResult): T {
  expect(r.isError, textOf(r)).toBeFalsy();
  return r.structuredContent as T;
}

export function countListChanged(sent: JSONRPCMessage[]): number {
  return sent.filter((m) => 'method' in m && m.method === 'notifications/tools/list_changed').length;
}

/** A harness whose OpenAI provider is the given fake LLM server (fast retries). */
export function startWithFakeProvider(
  fakeUrl: string,
  env: Env = {},
  options: HarnessOptions = {},
): Promise<Harness> {
  return startHarness({
    ...options,
    env: {
      OPENAI_API_KEY: 'sk-fake-provider',
      OPENAI_BASE_URL: `${fakeUrl}/v1`,
      TASK_ORCHESTRATOR_RETRY_BASE_MS: '5',
      ...env,
    },
  });
}

/** Every regular file below `dir` (links not followed), for tests that scan the state folder. */
export async function allFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await allFiles(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}
