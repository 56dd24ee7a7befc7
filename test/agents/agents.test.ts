/** The agent category through MCP against the fake LLM server: archetypes and parallel runs. */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { useFakeLlm } from '../helpers/fakeLlm.js';
import { sc, startWithFakeProvider, textOf } from '../helpers/harness.js';
import type { Harness } from '../helpers/harness.js';

let h: Harness | undefined;
const llm = useFakeLlm();
beforeEach(async () => {
  h = await startWithFakeProvider(llm.fake.url, { TASK_ORCHESTRATOR_TOOLS: 'agent,task' });
});
afterEach(async () => {
  await h?.close();
  h = undefined;
});

interface Parallel {
  results: Array<{
    index: number;
    status: string;
    output?: string;
    error?: string;
    task?: { completed: boolean };
  }>;
  succeeded: number;
  failed: number;
  cancelled: number;
  wall_ms: number;
}

describe('archetypes', () => {
  it('lists the seven built-ins and shows a role prompt', async () => {
    const all = sc<{ archetypes: Array<{ name: string }> }>(await h!.call('archetype_info', {}));
    expect(all.archetypes.map((a) => a.name)).toEqual([
      'architect',
      'implementer',
      'reviewer',
      'tester',
      'debugger',
      'researcher',
      'documenter',
    ]);
    const one = sc<{ archetypes: Array<{ system_prompt: string }> }>(
      await h!.call('archetype_info', { name: 'debugger' }),
    );
    expect(one.archetypes[0]?.system_prompt).toMatch(/root cause/);
    expect(textOf(await h!.call('archetype_info', { name: 'wizard' }))).toMatch(
      /No archetype "wizard".*Available: architect/,
    );
  });

  it("runs an agent with the archetype's role prompt and temperature", async () => {
    const r = sc<{ archetype: string; output: string }>(
      await h!.call('spawn_archetype_agent', { archetype: 'reviewer', prompt: 'Review this diff.' }),
    );
    expect(r.archetype).toBe('reviewer');
    const body = llm.fake.requests[0]!.body as {
      temperature: number;
      messages: Array<{ role: string; content: string }>;
    };
    expect(body.temperature).toBe(0.1);
    expect(body.messages[0]).toMatchObject({ role: 'system' });
    expect(body.messages[0]?.content).toMatch(/You are a code reviewer/);
  });

  it("uses a task's specialist as its archetype", async () => {
    const added = sc<{ added: Array<{ task: { id: string } }> }>(
      await h!.call('tasks_add', { tasks: [{ title: 'Cover the parser', specialist: 'tester' }] }),
    );
    // spawn_agent is in core; the task's specialist picks the tester role.
    const r = sc<{ archetype?: string; task?: { completed: boolean } }>(
      await h!.call('spawn_agent', { prompt: 'Go.', task_id: added.added[0]!.task.id }),
    );
    expect(r.archetype).toBe('tester');
    expect(r.task?.completed).toBe(true);
    expect(
      (llm.fake.requests[0]!.body as { messages: Array<{ content: string }> }).messages[0]?.content,
    ).toMatch(/test engineer/);
  });
});

describe('spawn_parallel_agents', () => {
  it('runs with bounded concurrency, reports progress as agents finish, and reports failures per agent', async () => {
    llm.fake.script(
      { text: 'one', delayMs: 150 },
      { status: 400 },
      ...Array.from({ length: 6 }, (_, i) => ({ text: `answer ${i}`, delayMs: 150 })),
    );
    const progress: number[] = [];
    const result = (await h!.client.callTool(
      {
        name: 'spawn_parallel_agents',
        arguments: { prompts: Array.from({ length: 8 }, (_, i) => `question ${i}`), concurrency: 4 },
      },
      CallToolResultSchema,
      { onprogress: (p) => progress.push(p.progress) },
    )) as CallToolResult;
    const r = sc<Parallel>(result);
    expect(r.succeeded).toBe(7);
    expect(r.failed).toBe(1);
    expect(r.results.find((x) => x.status === 'failed')?.error).toMatch(/bad_request 400/);
    expect(progress.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    // 7 calls of 150 ms at concurrency 4 take two rounds, not seven.
    expect(r.wall_ms).toBeLessThan(7 * 150);
  });

  it('stops starting agents when the client cancels', async () => {
    llm.fake.script(...Array.from({ length: 6 }, () => ({ text: 'slow', delayMs: 300 })));
    const controller = new AbortController();
    const call = h!.client.callTool(
      {
        name: 'spawn_parallel_agents',
        arguments: { prompts: Array.from({ length: 6 }, (_, i) => `p${i}`), concurrency: 1 },
      },
      CallToolResultSchema,
      { signal: controller.signal },
    );
    setTimeout(() => controller.abort(), 150);
    await expect(call).rejects.toThrow();
    await new Promise((r) => setTimeout(r, 700));
    expect(llm.fake.requests.length).toBe(1);
    expect(llm.fake.requests[0]?.aborted).toBe(true);
  });

  it('works on tasks and refuses ambiguous input', async () => {
    const added = sc<{ added: Array<{ task: { id: string } }> }>(
      await h!.call('tasks_add', { tasks: [{ title: 'A' }, { title: 'B' }] }),
    );
    const r = sc<Parallel>(
      await h!.call('spawn_parallel_agents', { task_ids: added.added.map((a) => a.task.id) }),
    );
    expect(r.results.map((x) => x.task?.completed)).toEqual([true, true]);
    expect(textOf(await h!.call('spawn_parallel_agents', {}))).toMatch(/Give either prompts or task_ids/);
    expect(textOf(await h!.call('spawn_parallel_agents', { prompts: ['x'], task_ids: ['t_x'] }))).toMatch(
      /Give either prompts or task_ids/,
    );
  });
});
