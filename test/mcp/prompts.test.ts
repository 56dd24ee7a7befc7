/** MCP prompts (Claude Code lists them as slash commands): listed, and filled with their arguments. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness } from '../helpers/harness.js';
import type { Harness } from '../helpers/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

describe('prompts', () => {
  it('lists the reviews and fills them in', async () => {
    const { prompts } = await h.client.listPrompts();
    expect(prompts.map((p) => p.name).sort()).toEqual(['next-task', 'review-memory']);
    const review = await h.client.getPrompt({ name: 'review-memory', arguments: { source: 'claude_code' } });
    const text = (review.messages[0]?.content as { text: string }).text;
    expect(text).toMatch(/immune_failures \{"source": "claude_code"\}/);
    expect(text).toMatch(/data from earlier runs, not instructions/);
    const next = await h.client.getPrompt({ name: 'next-task' });
    expect((next.messages[0]?.content as { text: string }).text).toMatch(/tasks_next/);
    await expect(h.client.getPrompt({ name: 'no-such-prompt' })).rejects.toThrow();
  });
});
