import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, textOf } from '../../helpers/harness.js';
import type { Harness } from '../../helpers/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

interface Entry {
  id: string;
  entry_type: string;
  title?: string;
  content: string;
  actor: string;
  truncated?: boolean;
}

describe('audit_append / audit_status', () => {
  it('records entries with the client as actor and finds them newest first, paginated', async () => {
    h = await startHarness({ env: { TASK_ORCHESTRATOR_TOOLS: 'agent' } });
    for (let i = 0; i < 5; i++) {
      const r = await h.call('audit_append', {
        entry_type: 'decision',
        title: `choice ${i}`,
        content: `We picked option ${i} for storage`,
      });
      expect(r.isError, textOf(r)).toBeFalsy();
    }
    await h.call('audit_append', { entry_type: 'error', content: 'Build broke on Node 20', actor: 'ci-bot' });
    const page1 = (await h.call('audit_status', { limit: 4 })).structuredContent as {
      counts: Record<string, number>;
      total_matching: number;
      entries: Entry[];
      next_cursor?: string;
    };
    expect(page1.counts).toEqual({ decision: 5, error: 1, pattern: 0 });
    expect(page1.total_matching).toBe(6);
    expect(page1.entries).toHaveLength(4);
    expect(page1.entries[0]?.actor).toBe('ci-bot');
    expect(page1.entries[1]?.actor).toBe('test-client/1.0.0');
    const page2 = (await h.call('audit_status', { limit: 4, cursor: page1.next_cursor }))
      .structuredContent as {
      entries: Entry[];
      next_cursor?: string;
    };
    expect(page2.entries).toHaveLength(2);
    expect(page2.next_cursor).toBeUndefined();
    const ids = [...page1.entries, ...page2.entries].map((e) => e.id);
    expect(new Set(ids).size).toBe(6);

    const found = (await h.call('audit_status', { query: 'OPTION 3 storage' })).structuredContent as {
      entries: Entry[];
    };
    expect(found.entries.map((e) => e.title)).toEqual(['choice 3']);
    const errors = (await h.call('audit_status', { entry_type: 'error' })).structuredContent as {
      entries: Entry[];
    };
    expect(errors.entries.map((e) => e.content)).toEqual(['Build broke on Node 20']);
  });

  it('previews long content unless full is asked for, and survives a restart', async () => {
    h = await startHarness({ env: { TASK_ORCHESTRATOR_TOOLS: 'agent' } });
    const long = 'x'.repeat(5000);
    await h.call('audit_append', { entry_type: 'pattern', content: long });
    const stateDir = h.stateDir;
    await h.client.close();
    await h.server.close();
    await h.services.storage.close();
    h = await startHarness({ env: { TASK_ORCHESTRATOR_TOOLS: 'agent' }, stateDir });
    const preview = (await h.call('audit_status', {})).structuredContent as { entries: Entry[] };
    expect(preview.entries[0]?.truncated).toBe(true);
    expect(preview.entries[0]?.content.length).toBe(400);
    const full = (await h.call('audit_status', { full: true })).structuredContent as { entries: Entry[] };
    expect(full.entries[0]?.content).toBe(long);
  });

  it('rejects bad input with messages that say what to fix, and stores nothing', async () => {
    h = await startHarness({ env: { TASK_ORCHESTRATOR_TOOLS: 'agent' } });
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ entry_type: 'gossip', content: 'x' }, /entry_type/],
      [{ entry_type: 'decision', content: '   ' }, /content/],
      [{ entry_type: 'decision', content: 'x'.repeat(20_001) }, /content/],
      [{ entry_type: 'decision', content: 'x', path: '../../etc/passwd' }, /path/],
    ];
    for (const [args, pattern] of cases) {
      const r = await h.call('audit_append', args);
      expect(r.isError, JSON.stringify(args)).toBe(true);
      expect(textOf(r)).toMatch(pattern);
    }
    const bad = await h.call('audit_status', { cursor: 'not-a-cursor' });
    expect(bad.isError).toBe(true);
    expect(textOf(bad)).toMatch(/Invalid cursor.*next_cursor/);
    const status = (await h.call('audit_status', {})).structuredContent as { total_matching: number };
    expect(status.total_matching).toBe(0);
  });
});
