/**
 * Every tool takes only the services it uses (`Pick<Services, ...>`), so a tool's file says what
 * it can touch; only the category index (which hands them out) sees the whole set.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const categories = path.resolve(import.meta.dirname, '../../src/mcp/categories');

describe('tool dependencies', () => {
  it('are narrowed to what each tool uses', async () => {
    expect.hasAssertions();
    const wide: string[] = [];
    const unused: string[] = [];
    let tools = 0;
    for (const category of await fs.readdir(categories, { withFileTypes: true })) {
      if (!category.isDirectory()) continue;
      const dir = path.join(categories, category.name);
      for (const file of await fs.readdir(dir)) {
        if (file === 'index.ts' || !file.endsWith('.ts')) continue;
        const code = await fs.readFile(path.join(dir, file), 'utf8');
        const factory = /export function \w+\((\w+): ([^)]*)\)/.exec(code);
        if (!factory || (!code.includes('defineTool') && !code.includes('syncTool('))) continue;
        tools++;
        const [, param, type] = factory;
        if (!type!.startsWith('Pick<Services,')) wide.push(`${category.name}/${file}: ${type}`);
        // Every picked member is used (a pick that lists more than it uses is wide again).
        for (const m of type!.matchAll(/'(\w+)'/g))
          if (
            !new RegExp(`\\b${param}\\.${m[1]}\\b|\\{[^}]*\\b${m[1]}\\b[^}]*\\} = ${param}\\b`).test(code) &&
            !code.includes(`(${param},`) &&
            !code.includes(`(\n    ${param},`)
          )
            unused.push(`${category.name}/${file}: ${m[1]}`);
      }
    }
    expect(tools).toBeGreaterThan(55);
    expect(wide).toEqual([]);
    expect(unused).toEqual([]);
  });
});
