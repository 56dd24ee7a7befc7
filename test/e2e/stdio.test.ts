/**
 * The built server as Claude Code runs it: `node dist/cli.js serve` as a child over stdio.
 */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeLlmServer } from '../fakes/fakeLlmServer.js';
import type { FakeLlmServer } from '../fakes/fakeLlmServer.js';
import { LineTransport } from './lineTransport.js';
import { createLogger } from '../../src/core/logger.js';
import { FolderHub } from '../../src/immune/federation/federationHub.js';
import { labelledJsonl } from '../fakes/labelledPrompts.js';
import { useWorkFolder } from './children.js';
import { toolFixtures } from './toolFixtures.js';
import { track } from '../helpers/processes.js';

const cli = path.resolve(import.meta.dirname, '../../dist/cli.js');
const SECRET = 'sk-e2e-secret-value-must-never-leak';

interface Running {
  child: ChildProcessWithoutNullStreams;
  transport: LineTransport;
  client: Client;
  stderr: () => string;
  exited: Promise<number | null>;
}

let fakeLlm: FakeLlmServer;
beforeAll(async () => {
  fakeLlm = await startFakeLlmServer();
});
afterAll(async () => {
  await fakeLlm.close();
});

const folder = useWorkFolder<Running>('to-e2e-');
const started = folder.started;

async function start(env: Record<string, string> = {}): Promise<Running> {
  const child = track(
    spawn(process.execPath, [cli, 'serve'], {
      cwd: folder.dir,
      env: {
        PATH: process.env.PATH ?? '',
        OPENAI_API_KEY: SECRET,
        OPENAI_BASE_URL: `${fakeLlm.url}/v1`,
        TASK_ORCHESTRATOR_LOG_LEVEL: 'debug',
        TASK_ORCHESTRATOR_LIST_CHANGED_WAIT_MS: '2000',
        ...env,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    }),
  );
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const transport = new LineTransport(child);
  const client = new Client(
    { name: 'e2e-client', version: '0.0.1' },
    { listChanged: { tools: { onChanged: () => {}, debounceMs: 0 } } },
  );
  await client.connect(transport);
  const running = { child, transport, client, stderr: () => stderr, exited };
  started.push(running);
  return running;
}

function text(result: CallToolResult): string {
  return result.content.map((c) => (c.type === 'text' ? c.text : '')).join('');
}

describe('stdio server end to end', () => {
  it('loads every category, calls every tool with valid and invalid input, and keeps stdout pure JSON-RPC', async () => {
    // A .env in the project must not be read (dotenv-style loaders would turn on every category).
    await fs.writeFile(path.join(folder.dir, '.env'), 'TASK_ORCHESTRATOR_TOOLS=all\n');
    const hubDir = path.join(folder.dir, 'hub');
    const { client, transport, stderr } = await start({ TASK_ORCHESTRATOR_FEDERATION_DIR: hubDir });
    const initial = (await client.listTools()).tools.map((t) => t.name);
    expect(initial.sort()).toEqual([
      'healing_status',
      'request_tool',
      'spawn_agent',
      'tasks_add',
      'tasks_list',
    ]);

    const status = (await client.callTool({ name: 'healing_status', arguments: {} })) as CallToolResult;
    const categories = (status.structuredContent as { categories: Array<{ name: string }> }).categories.map(
      (c) => c.name,
    );
    for (const category of categories) {
      const loaded = (await client.callTool({
        name: 'request_tool',
        arguments: { category },
      })) as CallToolResult;
      expect(loaded.isError, text(loaded)).toBeFalsy();
      if (category !== 'core') {
        expect((loaded.structuredContent as { client_refreshed: boolean }).client_refreshed).toBe(true);
      }
    }
    const { tools } = await client.listTools();
    expect(tools.length).toBeGreaterThan(initial.length);
    const missing = tools.map((t) => t.name).filter((n) => !toolFixtures[n]);
    expect(missing, 'every tool needs fixtures in test/e2e/toolFixtures.ts').toEqual([]);

    let trained = false;
    let evalRunId: string | undefined;
    const helpers = {
      async evalRun() {
        if (evalRunId) return evalRunId;
        const suite = await helpers.projectFile(
          'fixture-run.yaml',
          'name: fixture-run\nproviders: [openai/gpt-4o-mini]\ncases:\n  - id: a\n    prompt: First\n  - id: b\n    prompt: Second\n',
        );
        const r = (await client.callTool({ name: 'eval_run', arguments: { suite } })) as CallToolResult;
        expect(r.isError, text(r)).toBeFalsy();
        evalRunId = (r.structuredContent as { run: { id: string } }).run.id;
        return evalRunId;
      },
      async newTask(fields: Record<string, unknown> = {}) {
        const r = (await client.callTool({
          name: 'tasks_add',
          arguments: { tasks: [{ title: 'fixture task', ...fields }] },
        })) as CallToolResult;
        return (r.structuredContent as { added: Array<{ task: { id: string } }> }).added[0]!.task.id;
      },
      async lastTrial() {
        await client.callTool({ name: 'spawn_agent', arguments: { prompt: 'for a trial' } });
        const list = (await client.callTool({
          name: 'trials_list',
          arguments: { limit: 1 },
        })) as CallToolResult;
        return { trial_id: (list.structuredContent as { trials: Array<{ id: string }> }).trials[0]!.id };
      },
      async projectFile(name: string, content: string) {
        await fs.writeFile(path.join(folder.dir, name), content);
        return name;
      },
      async failurePattern() {
        await client.callTool({
          name: 'spawn_agent',
          arguments: {
            prompt: 'Return the fixture object',
            output_schema: { type: 'object', required: ['x'] },
          },
        });
        const r = (await client.callTool({
          name: 'immune_failures',
          arguments: { limit: 1 },
        })) as CallToolResult;
        return (r.structuredContent as { patterns: Array<{ id: string }> }).patterns[0]!.id;
      },
      async interviewed() {
        await client.callTool({ name: 'worker_interview', arguments: { provider: 'openai' } });
      },
      answerNext(...texts: string[]) {
        fakeLlm.script(...texts.map((t) => ({ text: t })));
      },
      async callerRun() {
        const root = await helpers.newTask();
        await helpers.newTask({ parent: root });
        const r = (await client.callTool({
          name: 'tasks_run',
          arguments: { root, mode: 'caller', dry_run: false },
        })) as CallToolResult;
        expect(r.isError, text(r)).toBeFalsy();
        return (r.structuredContent as { run: { run_id: string } }).run.run_id;
      },
      async scheduledJob() {
        const r = (await client.callTool({
          name: 'schedule_task',
          arguments: { command: { command: 'npm', args: ['test'] }, every: '1h' },
        })) as CallToolResult;
        return (r.structuredContent as { id: string }).id;
      },
      async pendingAction() {
        const r = (await client.callTool({
          name: 'run_with_error_capture',
          arguments: { command: 'git', args: ['reset', '--hard', 'HEAD~1'] },
        })) as CallToolResult;
        return (r.structuredContent as { action_id: string }).action_id;
      },
      async trainModel() {
        if (trained) return;
        await fs.writeFile(path.join(folder.dir, 'model.jsonl'), labelledJsonl(300, 4));
        const r = (await client.callTool({
          name: 'train_predictor',
          arguments: { source: 'file', path: 'model.jsonl' },
        })) as CallToolResult;
        expect(r.isError, text(r)).toBeFalsy();
        trained = true;
      },
      async hubPattern() {
        const hub = await FolderHub.open(hubDir, createLogger({ level: 'error', write: () => {} }));
        const at = new Date().toISOString();
        await hub.publish(
          { name: 'fixture-peer', path: '/fixture/peer' },
          [
            {
              project: 'fixture-peer',
              pattern_id: 'pat_fixture',
              operation: 'spawn_agent',
              failure_type: 'json_invalid',
              prompt_summary: 'Generate the user profile JSON',
              output_summary: 'prose',
              text: 'Generate the user profile JSON',
              occurrences: 1,
              saves: 0,
              strength: 1,
              strength_at: at,
              first_seen: at,
              last_seen: at,
              updated_at: at,
            },
          ],
          [],
        );
        await hub.close();
        return 'fixture-peer/pat_fixture';
      },
    };
    for (const tool of tools) {
      const fixture = toolFixtures[tool.name]!;
      const good = (await client.callTool({
        name: tool.name,
        arguments: await fixture.valid(helpers),
      })) as CallToolResult;
      expect(good.isError, `${tool.name}: ${text(good)}`).toBeFalsy();
      if (tool.outputSchema) expect(good.structuredContent, tool.name).toBeDefined();
      const bad = (await client.callTool({ name: tool.name, arguments: fixture.invalid })) as CallToolResult;
      expect(bad.isError, `${tool.name} accepted ${JSON.stringify(fixture.invalid)}`).toBe(true);
      expect(text(bad), tool.name).toMatch(fixture.invalidMessage);
    }

    // The dashboard is also a resource: a self-contained page with the charting library inlined.
    const { resources } = await client.listResources();
    expect(resources.map((r) => r.uri)).toContain('task-orchestrator://immune/dashboard');
    const page = await client.readResource({ uri: 'task-orchestrator://immune/dashboard' });
    const html = (page.contents[0] as { text: string; mimeType: string }).text;
    expect(page.contents[0]?.mimeType).toBe('text/html');
    expect(html).toMatch(/<canvas id="trend">/);
    expect(html).toMatch(/Chart\.js v4/);
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=/);

    // Junk the protocol allows a client to send must not break anything either.
    const unknown = (await client.callTool({
      name: 'definitely_not_a_tool',
      arguments: {},
    })) as CallToolResult;
    expect(unknown.isError).toBe(true);
    await expect(client.request({ method: 'no/such/method', params: {} }, {} as never)).rejects.toThrow();
    expect((await client.callTool({ name: 'healing_status', arguments: {} })).isError).toBeFalsy();

    // The key reached the provider (the fake) and nowhere else.
    expect(fakeLlm.requests.some((r) => r.headers.authorization === `Bearer ${SECRET}`)).toBe(true);
    expect(transport.badLines).toEqual([]);
    expect(transport.stdoutLines.length).toBeGreaterThan(10);
    const out = transport.stdoutLines.join('\n');
    expect(out).not.toContain(SECRET);
    expect(stderr()).not.toContain(SECRET);
    for (const line of stderr().split('\n').filter(Boolean))
      expect(() => JSON.parse(line) as unknown, line).not.toThrow();
  }, 60_000);

  it('flushes acknowledged writes and exits 0 on SIGTERM; the next process sees them', async () => {
    const first = await start({ TASK_ORCHESTRATOR_TOOLS: 'agent' });
    const writes = Array.from({ length: 20 }, (_, i) =>
      first.client.callTool({
        name: 'audit_append',
        arguments: { entry_type: 'decision', content: `entry ${i}` },
      }),
    );
    const results = (await Promise.all(writes)) as CallToolResult[];
    for (const r of results) expect(r.isError, text(r)).toBeFalsy();
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(first.stderr()).toContain('"reason":"SIGTERM"');

    const second = await start({ TASK_ORCHESTRATOR_TOOLS: 'agent' });
    const status = (await second.client.callTool({
      name: 'audit_status',
      arguments: { limit: 100 },
    })) as CallToolResult;
    expect((status.structuredContent as { total_matching: number }).total_matching).toBe(20);
    await second.client.close();
    expect(await second.exited).toBe(0);
  });

  it('two server processes on one state folder lose no audit entry', async () => {
    const spawnOne = () => start({ TASK_ORCHESTRATOR_TOOLS: 'agent' });
    const a = await spawnOne();
    const b = await spawnOne();
    const calls = [a, b].flatMap((s, n) =>
      Array.from({ length: 40 }, (_, i) =>
        s.client.callTool({
          name: 'audit_append',
          arguments: { entry_type: 'pattern', content: `p${n}-${i}` },
        }),
      ),
    );
    const results = (await Promise.all(calls)) as CallToolResult[];
    expect(results.filter((r) => r.isError)).toEqual([]);
    for (const s of [a, b]) {
      const status = (await s.client.callTool({
        name: 'audit_status',
        arguments: { limit: 100 },
      })) as CallToolResult;
      const sc = status.structuredContent as { total_matching: number; entries: Array<{ content: string }> };
      expect(sc.total_matching).toBe(80);
      expect(new Set(sc.entries.map((e) => e.content)).size).toBe(80);
    }
    await a.client.close();
    await b.client.close();
    expect(await a.exited).toBe(0);
    expect(await b.exited).toBe(0);
  });

  it('two servers add and complete tasks concurrently on one state folder: nothing lost or duplicated', async () => {
    const [a, b] = [await start(), await start()];
    const addAndComplete = async (s: Running, name: string) => {
      const added = (await s.client.callTool({
        name: 'tasks_add',
        arguments: { tasks: Array.from({ length: 15 }, (_, i) => ({ title: `${name}-${i}` })) },
      })) as CallToolResult;
      expect(added.isError, text(added)).toBeFalsy();
      const ids = (added.structuredContent as { added: Array<{ task: { id: string } }> }).added.map(
        (x) => x.task.id,
      );
      await s.client.callTool({ name: 'request_tool', arguments: { category: 'task' } });
      const done = (await Promise.all(
        ids.map((id) =>
          s.client.callTool({ name: 'tasks_complete', arguments: { task_id: id, summary: `by ${name}` } }),
        ),
      )) as CallToolResult[];
      for (const d of done) expect(d.isError, text(d)).toBeFalsy();
      return ids;
    };
    const [idsA, idsB] = await Promise.all([addAndComplete(a, 'A'), addAndComplete(b, 'B')]);
    // Both race to complete one shared task: exactly one wins.
    const shared = (await a.client.callTool({
      name: 'tasks_add',
      arguments: { tasks: [{ title: 'shared' }] },
    })) as CallToolResult;
    const sharedId = (shared.structuredContent as { added: Array<{ task: { id: string } }> }).added[0]!.task
      .id;
    const race = (await Promise.all(
      [a, b].map((s) => s.client.callTool({ name: 'tasks_complete', arguments: { task_id: sharedId } })),
    )) as CallToolResult[];
    expect(race.filter((r) => !r.isError)).toHaveLength(1);
    expect(text(race.find((r) => r.isError)!)).toMatch(/status is completed/);

    for (const s of [a, b]) {
      const list = (await s.client.callTool({
        name: 'tasks_list',
        arguments: { status: ['completed'], limit: 100 },
      })) as CallToolResult;
      const tasks = (list.structuredContent as { tasks: Array<{ id: string; title: string }> }).tasks;
      expect(tasks).toHaveLength(31);
      expect(new Set(tasks.map((t) => t.id)).size).toBe(31);
      expect(new Set(tasks.map((t) => t.id))).toEqual(new Set([...idsA, ...idsB, sharedId]));
    }
    await a.client.close();
    await b.client.close();
  });

  it('two server processes share one budget: 40 concurrent calls against a budget for 10 make 10 provider calls', async () => {
    // Judges off: this counts the agents' calls (judges reserve from the same budget, see judges.test.ts).
    const env = {
      TASK_ORCHESTRATOR_TOOLS: 'cost',
      TASK_ORCHESTRATOR_CLAUDE_CLI: 'off',
      TASK_ORCHESTRATOR_JUDGE_GRADERS: 'off',
    };
    const [a, b] = [await start(env), await start(env)];
    // An unknown model costs $15/$75 per million tokens; prompt "p" reserves 17 + 1000 tokens.
    const worst = (17 * 15 + 1000 * 75) / 1e6;
    const set = (await a.client.callTool({
      name: 'cost_set_budget',
      arguments: { provider: 'openai', daily_usd: worst * 10.5 },
    })) as CallToolResult;
    expect(set.isError, text(set)).toBeFalsy();
    fakeLlm.reset();
    fakeLlm.script(...Array.from({ length: 40 }, () => ({ text: 'ok', usage: { input: 17, output: 1000 } })));
    const calls = [a, b].flatMap((s) =>
      Array.from({ length: 20 }, () =>
        s.client.callTool({
          name: 'spawn_agent',
          arguments: { prompt: 'p', model: 'local-model', max_tokens: 1000 },
        }),
      ),
    );
    const results = (await Promise.all(calls)) as CallToolResult[];
    expect(results.filter((r) => !r.isError)).toHaveLength(10);
    expect(fakeLlm.requests).toHaveLength(10);
    await a.client.close();
    await b.client.close();
  });

  it('two server processes share a schedule: each due run happens once, in one of them', async () => {
    const env = {
      TASK_ORCHESTRATOR_TOOLS: 'workflow',
      TASK_ORCHESTRATOR_EXECUTE: 'on',
      TASK_ORCHESTRATOR_CLAUDE_CLI: 'off',
    };
    const [a, b] = [await start(env), await start(env)];
    const runAt = new Date(Date.now() + 1500).toISOString();
    const job = (await a.client.callTool({
      name: 'schedule_task',
      arguments: { command: { command: 'echo', args: ['scheduled'] }, run_at: runAt },
    })) as CallToolResult;
    expect(job.isError, text(job)).toBeFalsy();
    const every = (await b.client.callTool({
      name: 'schedule_task',
      arguments: { command: { command: 'true', args: [] }, every: '1s' },
    })) as CallToolResult;
    expect(every.isError, text(every)).toBeFalsy();
    await new Promise((resolve) => setTimeout(resolve, 4_500));
    const list = (await b.client.callTool({ name: 'list_scheduled_tasks', arguments: {} })) as CallToolResult;
    const jobs = (
      list.structuredContent as {
        jobs: Array<{
          name: string;
          status: string;
          run_count: number;
          runs: Array<{ owner: string; at: string; due?: string; ok: boolean }>;
        }>;
      }
    ).jobs;
    const once = jobs.find((j) => j.name === 'echo scheduled')!;
    expect(once).toMatchObject({ status: 'done', run_count: 1 });
    expect(once.runs[0]!.ok).toBe(true);
    const repeating = jobs.find((j) => j.name === 'true')!;
    // Due about every second for ~4 s: a few runs, never two for one due time.
    expect(repeating.run_count).toBeGreaterThanOrEqual(2);
    expect(repeating.run_count).toBeLessThanOrEqual(5);
    // Each run names the due time it was claimed for; no due time was run twice (start times
    // may share a second when a loaded machine delays one tick).
    const dues = repeating.runs.map((r) => r.due);
    expect(dues.every((d) => typeof d === 'string')).toBe(true);
    expect(new Set(dues).size).toBe(dues.length);
    // One process held the lease throughout.
    expect(new Set([...once.runs, ...repeating.runs].map((r) => r.owner)).size).toBe(1);
    await a.client.close();
    await b.client.close();
  });

  it('refuses to start with a bad variable, naming it on stderr and writing nothing to stdout', async () => {
    const child = track(
      spawn(process.execPath, [cli, 'serve'], {
        cwd: folder.dir,
        env: { PATH: process.env.PATH ?? '', TASK_ORCHESTRATOR_TOOLS: 'core,nonsense' },
      }),
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/TASK_ORCHESTRATOR_TOOLS names unknown categories: nonsense/);
  });
});

describe('cli', () => {
  function runCli(args: string[], env: Record<string, string> = {}) {
    return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = track(
        spawn(process.execPath, [cli, ...args], {
          cwd: folder.dir,
          env: { PATH: process.env.PATH ?? '', ...env },
        }),
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
  }

  it('has --help for every command', async () => {
    for (const args of [['--help'], ['serve', '--help'], ['doctor', '--help'], ['tools', '--help']]) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout).toMatch(/Usage: task-orchestrator/);
    }
  });

  it('doctor prints a table, never a key, and fails on bad config', async () => {
    const ok = await runCli(['doctor'], { OPENAI_API_KEY: SECRET, OPENAI_BASE_URL: 'http://127.0.0.1:9/v1' });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/OK\s+state folder/);
    expect(ok.stdout).toMatch(
      /OK\s+provider openai\s+key from OPENAI_API_KEY, base URL http:\/\/127\.0\.0\.1:9\/v1/,
    );
    expect(ok.stdout).toMatch(/WARN\s+provider gemini\s+not configured \(set GEMINI_API_KEY/);
    expect(ok.stdout).toMatch(/WARN\s+federation\s+off \(set TASK_ORCHESTRATOR_FEDERATION_DIR/);
    expect(ok.stdout).toMatch(/WARN\s+predictor\s+no model yet/);
    expect(ok.stdout).toMatch(/OK\s+commands\s+dry run/);
    expect(ok.stdout).toMatch(/WARN\s+http auth\s+serve --http needs JWT_SECRET_KEY/);
    expect(ok.stdout).toMatch(/OK\s+models\s+openai\/gpt-4o-mini: none retired or retiring within 60 days/);
    // A model at or near its retirement date is named with its replacement.
    const old = await runCli(['doctor'], { ANTHROPIC_API_KEY: SECRET, ANTHROPIC_MODEL: 'claude-sonnet-4-5' });
    expect(old.stdout).toMatch(
      /(WARN|FAIL)\s+models\s+anthropic\/claude-sonnet-4-5 (retires on|was retired on) 2026-11-30; use anthropic\/claude-sonnet-4-6/,
    );
    expect(ok.stdout + ok.stderr).not.toContain(SECRET);
    // The environment check comes from the variable table: credentials only as "set", typos named.
    expect(ok.stdout).toMatch(
      /OK\s+environment\s+.*OPENAI_API_KEY \(set\), OPENAI_BASE_URL=http:\/\/127\.0\.0\.1:9\/v1/,
    );
    const typo = await runCli(['doctor'], { TASK_ORCHESTRATOR_EXECUT: 'on' });
    expect(typo.stdout).toMatch(
      /WARN\s+environment\s+.*unknown, ignored: TASK_ORCHESTRATOR_EXECUT \(did you mean TASK_ORCHESTRATOR_EXECUTE\?\)/,
    );
    const json = await runCli(['doctor', '--json']);
    expect((JSON.parse(json.stdout) as { checks: unknown[] }).checks.length).toBeGreaterThan(4);
    const bad = await runCli(['doctor'], { TASK_ORCHESTRATOR_CONTEXT_BUDGET: 'many' });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/FAIL\s+config\s+.*TASK_ORCHESTRATOR_CONTEXT_BUDGET/);
  });

  it('tools lists categories with token estimates and creates no state', async () => {
    const r = await runCli(['tools']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^core\s+\(~\d+ tokens\)/m);
    expect(r.stdout).toMatch(/request_tool\s+\d+/);
    expect(r.stdout).toMatch(
      /model-facing definitions: core ~\d+ tokens, all ~\d+ tokens; whole tools\/list: core ~\d+, all ~\d+ \(cl100k_base\)/,
    );
    await expect(fs.access(path.join(folder.dir, '.task-orchestrator'))).rejects.toThrow();
  });
});
