/** A fresh machine without Chromium still passes `npm test` (browser tests skipped, with a reason); CI requires one. */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { findChromium, skipBrowserTests } from '../helpers/browser.js';

describe('finding a browser for the page tests', () => {
  it('honours CHROME_PATH, looks on PATH, and skips outside CI with a printed reason', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'to-browser-'));
    try {
      const fake = path.join(dir, 'my-chrome');
      await fs.writeFile(fake, '#!/bin/sh\n', { mode: 0o755 });
      expect(findChromium({ CHROME_PATH: fake, PATH: '' })).toBe(fake);
      await fs.writeFile(path.join(dir, 'chromium'), '#!/bin/sh\n', { mode: 0o755 });
      expect(findChromium({ PATH: dir })).toBe(path.join(dir, 'chromium'));
      const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
      try {
        expect(skipBrowserTests(undefined, {})).toBe(true);
        expect(String(write.mock.calls[0]?.[0])).toMatch(
          /browser tests skipped: no Chromium found \(set CHROME_PATH/,
        );
        expect(skipBrowserTests(undefined, { CI: 'true' })).toBe(false);
        expect(skipBrowserTests(fake, {})).toBe(false);
      } finally {
        write.mockRestore();
      }
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
