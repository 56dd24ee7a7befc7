/**
 * The tool catalog as a client sees it: every category's tools listed through a real MCP client,
 * with token estimates. Drives `task-orchestrator tools` and the README's generated sections.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { VARIABLES, shownDefault } from '../config/variables.js';
import type { VariableName } from '../config/variables.js';
import { modelFacing } from './contextTracker.js';
import { createServer } from './server.js';
import type { Services } from './services.js';

export interface CatalogTool {
  name: string;
  title: string;
  description: string;
  category: string;
  /** Tokens the model sees: name, description, input schema. */
  tokens: number;
  /** Tokens of the whole tools/list entry (with title, annotations, output schema). */
  listTokens: number;
  readOnly: boolean;
}

export interface Catalog {
  categories: Array<{ name: string; description: string; tokens: number; tools: CatalogTool[] }>;
  /** Model-facing tokens with core only / every category loaded. */
  coreTokens: number;
  allTokens: number;
  /** Whole tools/list JSON with core only / every category loaded. */
  coreListTokens: number;
  allListTokens: number;
  tokenizer: string;
}

export async function buildCatalog(services: Services): Promise<Catalog> {
  const server = createServer(services, { initial: 'all' });
  await server.tracker.load();
  const client = new Client({ name: 'task-orchestrator-catalog', version: '1' });
  const [a, b] = InMemoryTransport.createLinkedPair();
  await server.connect(a);
  await client.connect(b);
  try {
    const { tools } = await client.listTools();
    const byName = new Map(tools.map((t) => [t.name, t]));
    const categories = server.router.categories().map((c) => {
      const list = c.tools.map((name): CatalogTool => {
        const tool = byName.get(name);
        if (!tool) throw new Error(`tool ${name} missing from tools/list`);
        return {
          name,
          title: tool.title ?? name,
          description: tool.description ?? '',
          category: c.name,
          tokens: server.tracker.estimate(modelFacing([tool])),
          listTokens: server.tracker.estimate(JSON.stringify(tool)),
          readOnly: tool.annotations?.readOnlyHint === true,
        };
      });
      return {
        name: c.name,
        description: c.description,
        tokens: list.reduce((s, t) => s + t.tokens, 0),
        tools: list,
      };
    });
    const core = tools.filter((t) =>
      categories.find((c) => c.name === 'core')?.tools.some((x) => x.name === t.name),
    );
    return {
      categories,
      coreTokens: server.tracker.estimate(modelFacing(core)),
      allTokens: server.tracker.estimate(modelFacing(tools)),
      coreListTokens: server.tracker.estimate(JSON.stringify(core)),
      allListTokens: server.tracker.estimate(JSON.stringify(tools)),
      tokenizer: server.tracker.snapshot().tokenizer,
    };
  } finally {
    await client.close();
    await server.close();
  }
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s+/g, ' ').trim();
}

export function renderToolsMarkdown(catalog: Catalog): string {
  const out: string[] = [
    `${catalog.categories.reduce((s, c) => s + c.tools.length, 0)} tools in ${catalog.categories.length} categories. ` +
      `The model sees ~${catalog.coreTokens} tokens of tool definitions with core only and ~${catalog.allTokens} with every category loaded (name, description and input schema; ${catalog.tokenizer}). Whole tools/list responses: ~${catalog.coreListTokens} and ~${catalog.allListTokens}.`,
    '',
  ];
  for (const c of catalog.categories) {
    out.push(
      `### \`${c.name}\` (~${c.tokens} tokens)`,
      '',
      cell(c.description),
      '',
      '| tool | what it does | tokens |',
      '| --- | --- | --- |',
    );
    for (const t of c.tools) out.push(`| \`${t.name}\` | ${cell(t.description)} | ${t.tokens} |`);
    out.push('');
  }
  return out.join('\n').trimEnd() + '\n';
}

export function renderEnvMarkdown(): string {
  const rows = (Object.keys(VARIABLES) as VariableName[]).map(
    (name) => `| \`${name}\` | \`${shownDefault(name)}\` | ${cell(VARIABLES[name].doc)} |`,
  );
  return ['| variable | default | meaning |', '| --- | --- | --- |', ...rows].join('\n') + '\n';
}

/** Replaces the text between `<!-- name:start -->` and `<!-- name:end -->`. */
export function replaceSection(doc: string, name: string, body: string): string {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const i = doc.indexOf(start);
  const j = doc.indexOf(end);
  if (i < 0 || j < i) throw new Error(`README has no ${start} ... ${end} section`);
  return `${doc.slice(0, i + start.length)}\n${body}${doc.slice(j)}`;
}
