/** Every top-level folder of src/ has a page saying what it owns, what it may import and its invariants. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const src = path.resolve(import.meta.dirname, '../../src');

describe('folder pages', () => {
  it('exist for every folder of src/, with what it may import and its invariants', async () => {
    const folders = (await fs.readdir(src, { withFileTypes: true }))
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
    expect(folders.length).toBeGreaterThan(15);
    const missing: string[] = [];
    for (const folder of folders) {
      const page = await fs.readFile(path.join(src, folder, 'README.md'), 'utf8').catch(() => '');
      if (!page.startsWith(`# src/${folder}`) || !/May import:/.test(page) || !/Invariants/.test(page))
        missing.push(folder);
      // Every file its table names is there.
      const table = page
        .split('\n')
        .filter((line) => line.startsWith('| `'))
        .join('\n');
      for (const m of table.matchAll(/`([\w./-]+\.(?:ts|js))`/g))
        if (!(await fs.stat(path.join(src, folder, m[1]!)).catch(() => undefined)))
          missing.push(`${folder}: ${m[1]}`);
    }
    expect(missing).toEqual([]);
  });
});
