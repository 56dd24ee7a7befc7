import { z } from 'zod';
import type { Services } from '../../services.js';
import { defineTool, ok } from '../../tool.js';

const input = z.object({}).strict();

const output = z.object({
  context: z.object({
    tokenizer: z.string(),
    budget_tokens: z.number(),
    definitions_tokens: z.number(),
    results_tokens: z.number(),
    results_count: z.number(),
    used_tokens: z.number(),
    remaining_tokens: z.number(),
    compact_mode: z.boolean(),
    by_tool: z.record(z.string(), z.object({ calls: z.number(), result_tokens: z.number() })),
    unload_suggestions: z
      .array(z.string())
      .describe('Loaded categories that could be unloaded to free context'),
  }),
  categories: z.array(z.object({ name: z.string(), loaded: z.boolean(), tools: z.number() })),
  providers: z.array(z.object({ name: z.string(), configured: z.boolean(), env: z.string() })),
  storage: z.object({
    state_dir: z.string(),
    recoveries: z.array(
      z.object({ file: z.string(), problem: z.string(), action: z.string(), at: z.string() }),
    ),
  }),
});

const PROVIDER_ENV: Record<string, string> = {
  gemini: 'GEMINI_API_KEY or GOOGLE_API_KEY',
  openai: 'OPENAI_API_KEY (+ OPENAI_BASE_URL)',
  anthropic: 'ANTHROPIC_API_KEY',
};

export function healingStatus(services: Services) {
  return defineTool({
    name: 'healing_status',
    title: 'Server health',
    description:
      'Health of this task-orchestrator server: the context budget this session has used (tool definitions and results, in tokens) with categories worth unloading, which categories are loaded, which LLM providers are configured, and any storage recoveries since start.',
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    handler(_args, ctx) {
      const { session } = ctx;
      const snapshot = session.tracker.snapshot();
      const categories = session.categories();
      const unload = snapshot.compact_mode
        ? categories.filter((c) => c.loaded && c.name !== 'core').map((c) => c.name)
        : [];
      const configured = new Set<string>(services.config.providers.map((p) => p.name));
      return Promise.resolve(
        ok({
          context: { ...snapshot, unload_suggestions: unload },
          categories: categories.map((c) => ({ name: c.name, loaded: c.loaded, tools: c.tools.length })),
          providers: Object.entries(PROVIDER_ENV).map(([name, env]) => ({
            name,
            configured: configured.has(name),
            env,
          })),
          storage: {
            state_dir: services.storage.stateDir,
            recoveries: services.storage.recoveries.map(({ file, problem, action, at }) => ({
              file,
              problem,
              action,
              at,
            })),
          },
        }),
      );
    },
  });
}
