import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { systemClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import {
  buildCatalog,
  renderEnvMarkdown,
  renderToolsMarkdown,
  replaceSection,
} from '../../src/mcp/catalog.js';
import { openServices } from '../../src/app/services.js';

const root = path.resolve(import.meta.dirname, '../..');

describe('README', () => {
  it('documents exactly the registered tools and env vars (regenerate with `npm run docs`)', async () => {
    const stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'to-readme-'));
    const services = await openServices(
      loadConfig({ TASK_ORCHESTRATOR_HOME: stateDir }),
      silentLogger,
      systemClock,
    );
    const catalog = await buildCatalog(services);
    await services.close();
    await fs.rm(stateDir, { recursive: true, force: true });
    const readme = await fs.readFile(path.join(root, 'README.md'), 'utf8');
    const expected = replaceSection(
      replaceSection(readme, 'tools', renderToolsMarkdown(catalog)),
      'env',
      renderEnvMarkdown(),
    );
    expect(readme, 'README is stale: run `npm run docs`').toBe(expected);
    for (const c of catalog.categories) for (const t of c.tools) expect(readme).toContain(`\`${t.name}\``);
  });

  it('keeps the two-command quick start and the registration line', async () => {
    const readme = await fs.readFile(path.join(root, 'README.md'), 'utf8');
    // What the server says of itself is true: nothing built is described as missing.
    expect(readme).not.toMatch(/not built yet/);
    for (const file of ['src/mcp/categories/task/fallback.ts', 'src/mcp/categories/task/tasksPlan.ts'])
      expect(await fs.readFile(path.join(root, file), 'utf8')).not.toMatch(/not built yet/);
    const quick = readme.slice(readme.indexOf('## Quick start'), readme.indexOf('## Commands'));
    expect(quick).toMatch(/^npm install\b/m);
    expect(quick).toMatch(/^npm test\b/m);
    expect(quick).toContain(
      'claude mcp add --scope user task-orchestrator -- node /abs/path/to/task-orchestrator/dist/cli.js serve',
    );
    const pkg = JSON.parse(await fs.readFile(path.join(root, 'package.json'), 'utf8')) as {
      bin: Record<string, string>;
      scripts: Record<string, string>;
    };
    expect(pkg.bin['task-orchestrator']).toBe('dist/cli.js');
    expect(pkg.scripts.prepare).toMatch(/build/);
  });
});
