/** Every exported function, class or constant in src/ is used outside its file: nothing is exported for nobody. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const repo = path.resolve(import.meta.dirname, '../..');

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(path.join(repo, dir), { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && /\.(ts|mjs)$/.test(entry.name)) out.push(path.join(entry.parentPath, entry.name));
  }
  return out;
}

describe('exports', () => {
  it('are all used outside the file that exports them', async () => {
    const files = [...(await sources('src')), ...(await sources('test')), ...(await sources('bench'))];
    const text = new Map(
      await Promise.all(files.map(async (f) => [f, await fs.readFile(f, 'utf8')] as const)),
    );
    const dead: string[] = [];
    let exported = 0;
    for (const file of files.filter((f) => f.startsWith(path.join(repo, 'src')))) {
      for (const m of text.get(file)!.matchAll(/^export (?:async )?(?:const|function|class) (\w+)/gm)) {
        exported++;
        const used = new RegExp(`\\b${m[1]}\\b`);
        if (!files.some((other) => other !== file && used.test(text.get(other)!)))
          dead.push(`${path.relative(repo, file)}: ${m[1]}`);
      }
    }
    expect(exported).toBeGreaterThan(200);
    expect(dead).toEqual([]);
  });
});
