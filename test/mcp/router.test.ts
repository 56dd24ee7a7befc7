import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ERROR_META } from '../../src/mcp/router.js';
import { buildCategories } from '../../src/mcp/categories/index.js';
import { AppError } from '../../src/core/errors.js';
import { defineTool, ok } from '../../src/mcp/tool.js';
import type { Category } from '../../src/mcp/tool.js';
import { countListChanged, startHarness, textOf } from '../helpers/harness.js';
import type { Harness } from '../helpers/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const refetchingClient = { listChanged: { tools: { onChanged: () => {}, debounceMs: 0 } } };

describe('initialize and tools/list', () => {
  it('advertises tools.listChanged and short instructions that explain request_tool', async () => {
    h = await startHarness();
    expect(h.client.getServerCapabilities()?.tools?.listChanged).toBe(true);
    const instructions = h.client.getInstructions() ?? '';
    expect(instructions.length).toBeGreaterThan(100);
    expect(instructions.length).toBeLessThan(2048);
    expect(instructions).toContain('request_tool');
    expect(instructions).toContain('agent');
    // Whole, not cut: every tool of every category can be found by name.
    expect(instructions).not.toContain('[truncated]');
    for (const c of h.services ? buildCategories(h.services) : [])
      for (const t of c.tools) if (c.name !== 'core') expect(instructions).toContain(t.name);
  });

  it('exposes only core by default, every tool fully described', async () => {
    h = await startHarness();
    const { tools } = await h.client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([
      'healing_status',
      'request_tool',
      'spawn_agent',
      'tasks_add',
      'tasks_list',
    ]);
  });

  it('describes every tool of every category completely', async () => {
    h = await startHarness({ env: { TASK_ORCHESTRATOR_TOOLS: 'all' } });
    const { tools } = await h.client.listTools();
    expect(tools.length).toBeGreaterThanOrEqual(4);
    for (const tool of tools) {
      expect(tool.name).toMatch(/^[a-z][a-z0-9_]*$/);
      expect(tool.title, tool.name).toBeTruthy();
      expect(tool.description!.length, tool.name).toBeGreaterThan(40);
      expect(Buffer.byteLength(tool.description!), tool.name).toBeLessThan(1024);
      const a = tool.annotations ?? {};
      for (const hint of ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'] as const) {
        expect(typeof a[hint], `${tool.name}.${hint}`).toBe('boolean');
      }
      expect(tool.outputSchema, tool.name).toBeDefined();
      expect(tool.inputSchema.additionalProperties, tool.name).toBe(false);
      for (const [field, schema] of Object.entries(tool.inputSchema.properties ?? {})) {
        expect((schema as { description?: string }).description, `${tool.name}.${field}`).toBeTruthy();
      }
    }
  });

  it('starts with the categories named in TASK_ORCHESTRATOR_TOOLS and rejects unknown ones', async () => {
    h = await startHarness({ env: { TASK_ORCHESTRATOR_TOOLS: 'core,agent' } });
    expect((await h.client.listTools()).tools.map((t) => t.name)).toContain('audit_append');
    await h.close();
    h = undefined;
    const error = await startHarness({ env: { TASK_ORCHESTRATOR_TOOLS: 'core,nonsense' } }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('CONFIG_INVALID');
    expect((error as AppError).describe()).toMatch(
      /TASK_ORCHESTRATOR_TOOLS names unknown categories: nonsense.*Valid categories: core, task, agent/,
    );
  });
});

describe('request_tool', () => {
  it('loads a category with exactly one list_changed and returns after the client re-fetched', async () => {
    h = await startHarness({ clientOptions: refetchingClient });
    const before = countListChanged(h.sent);
    const result = await h.call('request_tool', { category: 'agent', reason: 'need the decision log' });
    expect(result.isError).toBeFalsy();
    const sc = result.structuredContent as {
      action: string;
      client_refreshed: boolean;
      tools: Array<{ name: string }>;
    };
    expect(sc.action).toBe('loaded');
    expect(sc.client_refreshed).toBe(true);
    expect(sc.tools.map((t) => t.name)).toEqual([
      'spawn_parallel_agents',
      'spawn_archetype_agent',
      'archetype_info',
      'audit_append',
      'audit_status',
      'inbox_status',
      'approve_action',
      'worker_interview',
      'worker_list',
      'worker_profile',
    ]);
    expect(countListChanged(h.sent) - before).toBe(1);
    // The tools/list response went out before the request_tool result did (matched by JSON-RPC id:
    // the result is the response whose structuredContent says "loaded" for this category).
    const listIndex = h.sent.findIndex((m) => 'result' in m && 'tools' in (m.result as object));
    const resultIndex = h.sent.findIndex(
      (m) =>
        'result' in m &&
        'id' in m &&
        (m.result as { structuredContent?: { action?: string; category?: string } }).structuredContent
          ?.category === 'agent',
    );
    expect(listIndex).toBeGreaterThanOrEqual(0);
    expect(resultIndex).toBeGreaterThan(listIndex);
    expect(textOf(result)).toContain('audit_append');
    const names = (await h.client.listTools()).tools.map((t) => t.name);
    expect(names).toContain('audit_status');
  });

  it('answers a call pipelined behind the request_tool that loads it from its own state, not the SDK text', async () => {
    expect.hasAssertions();
    h = await startHarness({ env: { TASK_ORCHESTRATOR_LIST_CHANGED_WAIT_MS: '0' } });
    // Both requests leave before either is answered.
    const [load, call] = await Promise.all([
      h.call('request_tool', { category: 'agent' }),
      h.call('audit_status', {}),
    ]);
    expect(load.isError).toBeFalsy();
    if (call.isError) {
      expect(textOf(call)).toMatch(
        /\[CONFLICT\] Tool "audit_status" was not loaded yet.*call audit_status again/,
      );
      expect(textOf(call)).not.toMatch(/disabled/);
    } else expect(call.structuredContent).toBeDefined();
    // Called again, it runs.
    expect((await h.call('audit_status', {})).isError).toBeFalsy();
  });

  it('returns anyway after the bounded wait when the client never re-fetches', async () => {
    h = await startHarness({ env: { TASK_ORCHESTRATOR_LIST_CHANGED_WAIT_MS: '150' } });
    const t0 = Date.now();
    const result = await h.call('request_tool', { category: 'agent' });
    const elapsed = Date.now() - t0;
    expect((result.structuredContent as { client_refreshed: boolean }).client_refreshed).toBe(false);
    expect(elapsed).toBeGreaterThanOrEqual(140);
    expect(elapsed).toBeLessThan(1000);
  });

  it('is idempotent: a second load sends no notification and does not wait', async () => {
    h = await startHarness({
      env: { TASK_ORCHESTRATOR_LIST_CHANGED_WAIT_MS: '5000' },
      clientOptions: refetchingClient,
    });
    await h.call('request_tool', { category: 'agent' });
    const before = countListChanged(h.sent);
    const t0 = Date.now();
    const again = await h.call('request_tool', { category: 'agent' });
    expect(Date.now() - t0).toBeLessThan(1000);
    expect((again.structuredContent as { action: string }).action).toBe('already_loaded');
    expect(countListChanged(h.sent)).toBe(before);
    // The client lists those tools already: names only, their summaries are not sent again.
    const tools = (again.structuredContent as { tools: Array<{ name: string; summary?: string }> }).tools;
    expect(tools.length).toBeGreaterThan(0);
    expect(tools.every((t) => t.summary === undefined)).toBe(true);
    expect(textOf(again)).toMatch(/^Category "agent" already loaded\. Its tools: \w+/);
  });

  it('unloads with one notification and refuses to unload core', async () => {
    h = await startHarness({ clientOptions: refetchingClient });
    await h.call('request_tool', { category: 'agent' });
    const before = countListChanged(h.sent);
    const out = await h.call('request_tool', { category: 'agent', unload: true });
    expect((out.structuredContent as { action: string }).action).toBe('unloaded');
    expect(countListChanged(h.sent) - before).toBe(1);
    expect((await h.client.listTools()).tools.map((t) => t.name)).not.toContain('audit_append');
    const core = await h.call('request_tool', { category: 'core', unload: true });
    expect(core.isError).toBe(true);
    expect(textOf(core)).toMatch(/core category cannot be unloaded/);
  });

  it('answers an unknown category with the valid ones', async () => {
    h = await startHarness();
    const result = await h.call('request_tool', { category: 'telepathy' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/Unknown category "telepathy".*Valid categories: core, task, agent/);
  });

  it('turns a call to a tool of an unloaded category into a hint, and an unknown tool into another', async () => {
    h = await startHarness();
    const gated = await h.call('audit_append', { entry_type: 'decision', content: 'x' });
    expect(gated.isError).toBe(true);
    expect(textOf(gated)).toContain('request_tool with {"category": "agent"}');
    const unknown = await h.call('no_such_tool', {});
    expect(unknown.isError).toBe(true);
    expect(textOf(unknown)).toMatch(/Unknown tool "no_such_tool".*request_tool/);
    // The same error in structured form, for a program: the code to branch on, the hint, the details.
    expect(gated._meta?.[ERROR_META]).toEqual({
      code: 'NOT_FOUND',
      message: 'Tool "audit_append" is in the "agent" category, which is not loaded',
      hint: 'Call request_tool with {"category": "agent"} first, then call audit_append again',
    });
    // A tool's own failure carries its details too (a task that does not exist).
    await h.call('request_tool', { category: 'task' });
    const missing = await h.call('tasks_complete', { task_id: 't_nosuchtask' });
    const structured = missing._meta?.[ERROR_META] as { code: string; hint?: string } | undefined;
    expect(structured?.code).toBe('NOT_FOUND');
    expect(structured?.hint).toMatch(/tasks_list/);
  });
});

describe('tool errors and limits', () => {
  function testCategory(): Category {
    return {
      name: 'testing',
      description: 'Tools that misbehave on purpose.',
      tools: [
        defineTool({
          name: 'explode',
          title: 'Throws',
          description: 'Throws an unexpected error, like a bug would, to check the server survives.',
          inputSchema: z.object({ kind: z.enum(['bug', 'expected']).describe('what to throw') }).strict(),
          outputSchema: z.object({}),
          annotations: {
            readOnlyHint: true,
            destructiveHint: false,
            idempotentHint: true,
            openWorldHint: false,
          },
          handler(args) {
            if (args.kind === 'expected')
              throw new AppError('NOT_FOUND', 'thing T-1 not found', { hint: 'tasks_list shows ids' });
            return Promise.reject(new TypeError('cannot read properties of undefined'));
          },
        }),
        defineTool({
          name: 'huge',
          title: 'Huge result',
          description: 'Returns a result far larger than the result budget, to check truncation.',
          inputSchema: z
            .object({ mode: z.enum(['structured', 'text']).describe('which part is huge') })
            .strict(),
          outputSchema: z.object({ blob: z.string() }),
          annotations: {
            readOnlyHint: true,
            destructiveHint: false,
            idempotentHint: true,
            openWorldHint: false,
          },
          handler(args) {
            const big = 'lorem ipsum dolor sit amet '.repeat(20_000);
            return Promise.resolve(
              args.mode === 'structured' ? ok({ blob: big }) : ok({ blob: 'small' }, big),
            );
          },
        }),
      ],
    };
  }

  it('turns a bug into an isError with a recovery hint and keeps serving', async () => {
    h = await startHarness({ extraCategories: () => [testCategory()], initial: 'all' });
    const bug = await h.call('explode', { kind: 'bug' });
    expect(bug.isError).toBe(true);
    expect(textOf(bug)).toMatch(
      /\[INTERNAL\] explode failed unexpectedly: cannot read properties.*server is still running/,
    );
    const expected = await h.call('explode', { kind: 'expected' });
    expect(textOf(expected)).toBe('[NOT_FOUND] thing T-1 not found. tasks_list shows ids');
    expect((await h.call('healing_status')).isError).toBeFalsy();
    expect(h.logs.some((l) => l.msg === 'tool failed unexpectedly')).toBe(true);
  });

  it('rejects unknown and mistyped fields with a message naming them', async () => {
    h = await startHarness();
    const extra = await h.call('request_tool', { category: 'agent', colour: 'blue' });
    expect(extra.isError).toBe(true);
    expect(textOf(extra)).toMatch(/colour/);
    const wrong = await h.call('request_tool', { category: 42 });
    expect(wrong.isError).toBe(true);
    expect(textOf(wrong)).toMatch(/category/);
  });

  it('refuses an oversized structured result and truncates oversized text explicitly', async () => {
    h = await startHarness({ extraCategories: () => [testCategory()], initial: 'all' });
    const structured = await h.call('huge', { mode: 'structured' });
    expect(structured.isError).toBe(true);
    expect(textOf(structured)).toMatch(/RESULT_TOO_LARGE.*limit.*cursor/);
    const text = await h.call('huge', { mode: 'text' });
    expect(text.isError).toBeFalsy();
    expect(textOf(text)).toMatch(/\[truncated: showing about 20000 of \d+ tokens/);
    expect(h.server.tracker.estimate(textOf(text))).toBeLessThan(21_000);
  });
});

describe('context tracker', () => {
  it('counts definitions and results, then switches to compact results and suggests unloading', async () => {
    h = await startHarness({
      env: {
        TASK_ORCHESTRATOR_CONTEXT_BUDGET: '10000',
        TASK_ORCHESTRATOR_CONTEXT_RESERVE: '0.55',
        TASK_ORCHESTRATOR_TOOLS: 'agent',
      },
    });
    await h.client.listTools();
    const first = (await h.call('healing_status')).structuredContent as {
      context: { definitions_tokens: number; compact_mode: boolean; tokenizer: string };
    };
    expect(first.context.tokenizer).toBe('cl100k_base');
    expect(first.context.definitions_tokens).toBeGreaterThan(500);
    expect(first.context.compact_mode).toBe(false);
    let calls = 1;
    let later = await h.call('healing_status');
    calls++;
    while (
      !(later.structuredContent as { context: { compact_mode: boolean } }).context.compact_mode &&
      calls < 50
    ) {
      later = await h.call('healing_status');
      calls++;
    }
    const sc = later.structuredContent as {
      context: {
        compact_mode: boolean;
        results_tokens: number;
        unload_suggestions: string[];
        by_tool: Record<string, { calls: number }>;
      };
    };
    expect(sc.context.compact_mode).toBe(true);
    expect(calls).toBeGreaterThan(2);
    expect(sc.context.results_tokens).toBeGreaterThan(100);
    expect(sc.context.unload_suggestions).toEqual(['agent']);
    expect(sc.context.by_tool.healing_status?.calls).toBe(calls - 1);
    expect(textOf(later)).toContain('To free context, unload: agent');
    const next = await h.call('healing_status');
    expect(textOf(next)).toContain('context budget nearly spent');
  });
});
