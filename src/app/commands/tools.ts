/** `tools`: the catalog with token estimates; `--write` regenerates the README sections. */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { systemClock } from '../../core/clock.js';
import { buildCatalog, renderEnvMarkdown, renderToolsMarkdown, replaceSection } from '../../mcp/catalog.js';
import { openServices } from '../services.js';
import { cliLogger, configOrExit } from '../process.js';

export async function tools(options: { json?: boolean; markdown?: boolean; write?: string }): Promise<void> {
  const config = configOrExit();
  const logger = cliLogger(config, 'error');
  // The catalog never touches storage; use a throwaway folder so listing tools creates no state.
  const scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'task-orchestrator-tools-'));
  try {
    const services = await openServices({ ...config, stateDir: scratch }, logger, systemClock);
    const catalog = await buildCatalog(services);
    await services.close();
    if (options.write) {
      const doc = await fs.readFile(options.write, 'utf8');
      const next = replaceSection(
        replaceSection(doc, 'tools', renderToolsMarkdown(catalog)),
        'env',
        renderEnvMarkdown(),
      );
      if (next !== doc) await fs.writeFile(options.write, next);
      process.stdout.write(`${options.write}: ${next === doc ? 'up to date' : 'updated'}\n`);
    } else if (options.json) {
      process.stdout.write(JSON.stringify(catalog, null, 2) + '\n');
    } else if (options.markdown) {
      process.stdout.write(renderToolsMarkdown(catalog));
    } else {
      for (const c of catalog.categories) {
        process.stdout.write(`${c.name}  (~${c.tokens} tokens)  ${c.description}\n`);
        for (const t of c.tools)
          process.stdout.write(`  ${t.name.padEnd(24)} ${String(t.tokens).padStart(5)}  ${t.title}\n`);
      }
      process.stdout.write(
        `model-facing definitions: core ~${catalog.coreTokens} tokens, all ~${catalog.allTokens} tokens; whole tools/list: core ~${catalog.coreListTokens}, all ~${catalog.allListTokens} (${catalog.tokenizer})\n`,
      );
    }
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}
