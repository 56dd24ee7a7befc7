import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/core/logger.js';
import { decodeCursor, encodeCursor, paginate } from '../../src/core/pagination.js';

describe('logger', () => {
  it('writes JSON lines, honours the level, and redacts secrets anywhere in the line', () => {
    const lines: string[] = [];
    const logger = createLogger({
      level: 'info',
      secrets: ['sk-live-123456', 'abc'],
      write: (l) => lines.push(l),
    });
    logger.debug('hidden');
    logger.info('calling provider with sk-live-123456', {
      headers: { authorization: 'Bearer sk-live-123456' },
      short: 'abc',
    });
    logger.child({ tool: 'x' }).error('failed', { error: new Error('key sk-live-123456 rejected') });
    expect(lines).toHaveLength(2);
    for (const line of lines) {
      expect(line.endsWith('\n')).toBe(true);
      expect(line).not.toContain('sk-live-123456');
      expect(() => JSON.parse(line) as unknown).not.toThrow();
    }
    const first = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(first.msg).toBe('calling provider with [REDACTED]');
    expect(first.short).toBe('abc'); // too short to be a secret worth masking
    const second = JSON.parse(lines[1]!) as { tool: string; error: { message: string } };
    expect(second.tool).toBe('x');
    expect(second.error.message).toBe('key [REDACTED] rejected');
  });
});

describe('pagination', () => {
  it('walks a list in pages and rejects a forged cursor', () => {
    const items = Array.from({ length: 7 }, (_, i) => i);
    const p1 = paginate(items, { limit: 3 });
    const p2 = paginate(items, { limit: 3, cursor: p1.next_cursor });
    const p3 = paginate(items, { limit: 3, cursor: p2.next_cursor });
    expect([p1.items, p2.items, p3.items]).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
    expect(p3.next_cursor).toBeUndefined();
    expect(decodeCursor(encodeCursor(5))).toBe(5);
    expect(() => decodeCursor('garbage')).toThrow(/Invalid cursor/);
    expect(() => decodeCursor(Buffer.from('{"o":-1}').toString('base64url'))).toThrow(/Invalid cursor/);
  });
});
