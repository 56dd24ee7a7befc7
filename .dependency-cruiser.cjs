/**
 * The layer check: imports flow one way,
 *   cli -> app -> {mcp -> desk, hooks} -> runs -> spawning -> {immune, evaluation} -> agents -> safety -> {tasks, cost, healing} -> storage -> core
 * (safety imports only core and storage: what it guards is handed to it by the composition root;
 * the failure memory in immune/ imports only core and storage; spawning/ is the graded run that
 * joins agents, grading and the memory around every call; runs/ is plans and supervisor runs).
 * app/ is the composition root (services, one file per CLI command): the only layer that
 * knows every subsystem. cli.ts is commander alone; it loads app/commands lazily. desk/ is the web
 * UI (the dashboard page and the review desk); the MCP server offers its dashboard page too.
 * config/ is read by anyone (it only parses the environment) and imports core alone.
 */
const below = ['core', 'storage', 'tasks', 'cost', 'healing', 'safety', 'code', 'workflows', 'agents'];
// What each layer may import (besides itself); everything else in src/ and cli.ts is refused.
const mayImport = {
  core: [],
  storage: ['core'],
  tasks: ['core', 'storage'],
  cost: ['core', 'storage'],
  healing: ['core', 'storage'],
  safety: ['core', 'storage'],
  // Reading code and its errors (validation, error capture); scheduling and workflow prompts.
  code: ['core', 'storage', 'safety'],
  workflows: ['core', 'storage', 'safety'],
  agents: ['core', 'storage', 'tasks', 'cost', 'healing', 'safety', 'code'],
  immune: ['core', 'storage'],
  evaluation: below,
  spawning: [...below, 'immune', 'evaluation'],
  runs: [...below, 'immune', 'evaluation', 'spawning'],
  hooks: [...below, 'immune', 'evaluation', 'spawning', 'runs'],
  desk: [...below, 'immune', 'evaluation', 'spawning', 'runs'],
  // The MCP server offers the desk's dashboard page (a resource, immune_dashboard's html).
  mcp: [...below, 'immune', 'evaluation', 'spawning', 'runs', 'desk'],
  app: [...below, 'immune', 'evaluation', 'spawning', 'runs', 'hooks', 'desk', 'mcp'],
};
const layers = Object.keys(mayImport);
const above = Object.fromEntries(
  layers.map((layer) => [
    layer,
    [...layers.filter((l) => l !== layer && !mayImport[layer].includes(l)), 'cli\\.ts'],
  ]),
);
module.exports = {
  forbidden: [
    ...layers.map((layer) => ({
      name: `layer-${layer}`,
      comment: `src/${layer} imports only layers below it (see docs/ARCHITECTURE.md)`,
      severity: 'error',
      from: { path: `^src/${layer}/` },
      to: {
        path: `^src/(${above[layer].filter((l) => !(layer === 'safety' && l === 'tasks')).join('|')})`,
      },
    })),
    {
      name: 'safety-implements-task-ports',
      comment:
        'safety/ runs what tasks/ describes (command gates): it may name the types of that contract, never use tasks/ code',
      severity: 'error',
      from: { path: '^src/safety/' },
      to: { path: '^src/tasks/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'cli-only-dispatches',
      comment: 'cli.ts only dispatches: to the hook handler or to the command line (app/commandLine.ts)',
      severity: 'error',
      from: { path: '^src/cli\\.ts$' },
      to: { path: '^src/', pathNot: '^src/app/(commandLine|commands/hook)\\.ts$' },
    },
    {
      name: 'config-imports-core-only',
      severity: 'error',
      from: { path: '^src/config/' },
      to: { path: '^src/(?!core/|config/)' },
    },
    {
      name: 'sdk-only-in-mcp',
      comment: 'Only src/mcp talks MCP',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/mcp/' },
      to: { path: '@modelcontextprotocol/sdk' },
    },
    {
      name: 'one-exec-boundary',
      comment: 'Every program runs through src/safety/exec.ts (policy, minimal environment, no shell)',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/safety/exec\\.ts$' },
      to: { path: '^(node:)?child_process$', dependencyTypes: ['core'] },
    },
    {
      name: 'categories-are-independent',
      comment: 'A tool category never imports another category',
      severity: 'error',
      from: { path: '^src/mcp/categories/([^/]+)/' },
      to: { path: '^src/mcp/categories/', pathNot: '^src/mcp/categories/$1/' },
    },
    {
      name: 'no-natural-root',
      comment: "natural's root prints a dotenv banner to stdout; import its submodules",
      severity: 'error',
      from: {},
      to: { path: 'node_modules/natural/(index|lib/natural/index)\\.js$' },
    },
    {
      name: 'no-dotenv',
      severity: 'error',
      from: {},
      to: { path: 'node_modules/dotenv/' },
    },
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
    },
  },
};
