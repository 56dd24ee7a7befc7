/** Core tools cost little context: their tools/list entries stay within 10% of every category's. */
import { encode } from 'gpt-tokenizer/encoding/cl100k_base';
import { afterEach, describe, expect, it } from 'vitest';
import { buildCatalog } from '../../src/mcp/catalog.js';
import { startHarness } from '../helpers/harness.js';
import type { Harness } from '../helpers/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('context cost of the core category', () => {
  it('keeps core at or under 10% of all tools/list tokens, with what callers branch on still advertised', async () => {
    h = await startHarness();
    const catalog = await buildCatalog(h.services);
    const tools = catalog.categories.flatMap((c) => c.tools.map((t) => ({ ...t, core: c.name === 'core' })));
    const core = tools.filter((t) => t.core).reduce((n, t) => n + t.listTokens, 0);
    const all = tools.reduce((n, t) => n + t.listTokens, 0);
    expect(core / all).toBeLessThanOrEqual(0.1);
    const listed = await h.client.listTools();
    const spawn = listed.tools.find((t) => t.name === 'spawn_agent')!;
    expect(Object.keys(spawn.outputSchema?.properties ?? {})).toEqual(
      expect.arrayContaining(['output', 'evaluation', 'trial_id']),
    );
    // Every input field keeps its description: that is what calling right needs.
    for (const t of listed.tools)
      for (const [field, schema] of Object.entries(t.inputSchema.properties ?? {}))
        expect((schema as { description?: string }).description, `${t.name}.${field}`).toBeTruthy();
  });

  it('costs the model no more than the core of task-master-ai, with every bound still enforced', async () => {
    h = await startHarness();
    const { tools } = await h.client.listTools();
    const facing = JSON.stringify(
      tools.map((t) => ({ name: t.name, description: t.description, input_schema: t.inputSchema })),
    );
    // task-master-ai 0.43.1's 7 core tools (TASK_MASTER_TOOLS=core), listed by its own server and
    // counted the same way in `npm run bench -- foundation` (TASKMASTER_MCP): 1408 tokens.
    expect(encode(facing).length).toBeLessThanOrEqual(1408);
    // The model is not shown the bounds, but they hold.
    expect(facing).not.toMatch(/maxLength|\$schema/);
    const long = await h.call('tasks_add', { tasks: [{ title: 'x'.repeat(201) }] });
    expect(long.isError).toBe(true);
    expect(long.content.map((c) => (c.type === 'text' ? c.text : '')).join('')).toMatch(/title/);
  });
});
