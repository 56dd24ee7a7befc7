/**
 * Every configuration field is read somewhere besides the table that parses it: a setting that is
 * parsed and documented but never used (as TASK_ORCHESTRATOR_BREAKER_RESET_MS was) fails here.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { VARIABLES } from '../../src/config/variables.js';

const src = path.resolve(import.meta.dirname, '../../src');

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await sources(p)));
    else if (e.name.endsWith('.ts') && !p.startsWith(path.join(src, 'config') + path.sep))
      out.push(await fs.readFile(p, 'utf8'));
  }
  return out;
}

describe('configuration', () => {
  it('has no field that only the config table reads', async () => {
    expect.hasAssertions();
    const code = (await sources(src)).join('\n');
    const config = loadConfig({});
    const fields: string[] = [];
    for (const [key, value] of Object.entries(config)) {
      fields.push(key);
      // Nested groups (http, alerts) are read field by field.
      if (value && typeof value === 'object' && !Array.isArray(value) && ['http', 'alerts'].includes(key))
        fields.push(...Object.keys(value as object));
    }
    const unread = fields.filter((f) => !new RegExp(`\\.${f}\\b`).test(code));
    expect(unread).toEqual([]);
  });

  it('reads every variable of the table when it builds the config', async () => {
    expect.hasAssertions();
    const build = await fs.readFile(path.join(src, 'config', 'config.ts'), 'utf8');
    const unread = Object.keys(VARIABLES).filter((name) => !new RegExp(`\\be\\.${name}\\b`).test(build));
    expect(Object.keys(VARIABLES).length).toBeGreaterThan(40);
    expect(unread).toEqual([]);
  });
});
