import { PROVIDERS } from '../../../config/defaults.js';
import { z } from 'zod';
import type { Services } from '../../services.js';
import { defineTool, ok } from '../../tool.js';
import { spendSplit } from '../../../cost/usage.js';
import type { SpendSplit } from '../../../cost/usage.js';

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
  breakers: z
    .array(
      z.object({
        key: z.string(),
        state: z.enum(['closed', 'open', 'half_open']),
        fires: z.number(),
        failures: z.number(),
        successes: z.number(),
        rejects: z.number(),
        last_error: z.string().optional(),
        opened_at: z.string().optional(),
        next_half_open_at: z.string().optional(),
      }),
    )
    .describe('One circuit per provider/model that has been called'),
  budgets: z.array(
    z.object({
      provider: z.string(),
      today_usd: z.number(),
      month_usd: z.number(),
      remaining_today_usd: z.number().optional(),
      remaining_month_usd: z.number().optional(),
    }),
  ),
  spend_24h: z
    .object({
      agents: z.object({ calls: z.number(), cost_usd: z.number(), avg_latency_ms: z.number().nullable() }),
      judges: z.object({ calls: z.number(), cost_usd: z.number(), avg_latency_ms: z.number().nullable() }),
    })
    .describe('Provider calls of the last 24 hours: agents and LLM judges side by side'),
  storage: z.object({
    state_dir: z.string(),
    backend: z.enum(['files', 'postgres']),
    database: z
      .object({
        state: z.enum(['closed', 'open', 'half_open']),
        failures: z.number(),
        last_error: z.string().optional(),
        opened_at: z.string().optional(),
        next_try_at: z.string().optional(),
      })
      .optional()
      .describe("The database's breaker (team storage): open while it cannot be reached"),
    unreadable: z.string().optional().describe('Why budgets and spend could not be read just now'),
    recoveries: z.array(
      z.object({ file: z.string(), problem: z.string(), action: z.string(), at: z.string() }),
    ),
  }),
});

/** Advertised (core tools are in every request's context): what a caller branches on; the text states all. */
const advertised = z.looseObject({
  context: z.looseObject({ used_tokens: z.number(), budget_tokens: z.number(), compact_mode: z.boolean() }),
  breakers: z.array(z.looseObject({ key: z.string(), state: z.enum(['closed', 'open', 'half_open']) })),
  providers: z.array(z.looseObject({ name: z.string(), configured: z.boolean() })),
});

export function healingStatus(
  services: Pick<Services, 'breakers' | 'budget' | 'clock' | 'config' | 'spawn' | 'storage' | 'usage'>,
) {
  return defineTool({
    name: 'healing_status',
    title: 'Server health',
    description:
      'Server health: context tokens this session used (and categories worth unloading), loaded categories, configured providers, storage recoveries.',
    inputSchema: input,
    outputSchema: output,
    advertisedOutputSchema: advertised,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(_args, ctx) {
      const { session } = ctx;
      const snapshot = session.tracker.snapshot();
      const categories = session.categories();
      const unload = snapshot.compact_mode
        ? categories.filter((c) => c.loaded && c.name !== 'core').map((c) => c.name)
        : [];
      const configured = new Set<string>(services.config.providers.map((p) => p.name));
      // Read first: with the database unreachable, health still answers (and says so).
      let unreadable: string | undefined;
      const [standings, usage] = await Promise.all([
        services.budget.standings(services.spawn.configured),
        services.usage.readAll(),
      ]).catch((error: unknown) => {
        unreadable = error instanceof Error ? error.message : String(error);
        return [[], []] as const;
      });
      const database = services.storage.health?.();
      const value = {
        context: { ...snapshot, unload_suggestions: unload },
        categories: categories.map((c) => ({ name: c.name, loaded: c.loaded, tools: c.tools.length })),
        providers: PROVIDERS.map(({ name, configuredBy: env }) => ({
          name,
          configured: configured.has(name),
          env,
        })),
        breakers: services.breakers.snapshot(),
        budgets: standings.map(
          ({ provider, today_usd, month_usd, remaining_today_usd, remaining_month_usd }) => ({
            provider,
            today_usd,
            month_usd,
            ...(remaining_today_usd !== undefined ? { remaining_today_usd } : {}),
            ...(remaining_month_usd !== undefined ? { remaining_month_usd } : {}),
          }),
        ),
        spend_24h: spendSplit(usage, services.clock.now() - 86_400_000),
        storage: {
          state_dir: services.storage.stateDir,
          backend: services.storage.backend,
          ...(database ? { database } : {}),
          ...(unreadable ? { unreadable } : {}),
          recoveries: services.storage.recoveries.map(({ file, problem, action, at }) => ({
            file,
            problem,
            action,
            at,
          })),
        },
      };
      return ok(value, summarize(value));
    },
  });
}

const spendLine = (s: SpendSplit) =>
  `${s.calls} call(s), $${s.cost_usd}${s.avg_latency_ms === null ? '' : `, ${s.avg_latency_ms} ms on average`}`;

/** The text the model reads: the same facts as structuredContent, in a few lines. */
function summarize(v: z.output<typeof output>): string {
  const c = v.context;
  const providers = v.providers.filter((p) => p.configured).map((p) => p.name);
  const lines = [
    `Context: ~${c.used_tokens} of ${c.budget_tokens} tokens used by this server (tool definitions ${c.definitions_tokens}, ${c.results_count} results ${c.results_tokens}; ${c.tokenizer}); compact mode ${c.compact_mode ? 'ON' : 'off'}.`,
    `Categories: ${v.categories.map((x) => `${x.name}${x.loaded ? ' (loaded)' : ''}`).join(', ')}.`,
    providers.length > 0
      ? `Providers configured: ${providers.join(', ')}.`
      : `No LLM provider configured (set ${v.providers.map((p) => p.env).join('; ')}).`,
    v.breakers.length === 0
      ? 'Breakers: none used yet.'
      : `Breakers: ${v.breakers
          .map(
            (b) =>
              `${b.key} ${b.state.replace('_', '-')}${b.state === 'closed' ? '' : `${b.next_half_open_at ? ` (next trial ${b.next_half_open_at})` : ''}${b.last_error ? `, last error: ${b.last_error.slice(0, 120)}` : ''}`}`,
          )
          .join('; ')}.`,
    `Last 24 h: agents ${spendLine(v.spend_24h.agents)}; judges ${spendLine(v.spend_24h.judges)}.`,
    `State folder: ${v.storage.state_dir}; ${v.storage.recoveries.length === 0 ? 'no storage recoveries' : `${v.storage.recoveries.length} file(s) recovered since start, see storage.recoveries`}.`,
  ];
  const d = v.storage.database;
  if (d)
    lines.push(
      d.state === 'closed'
        ? 'Database: reachable.'
        : `Database: ${d.state === 'open' ? 'unreachable' : 'being tried again'} since ${d.opened_at}${d.next_try_at ? `; next try ${d.next_try_at}` : ''}${d.last_error ? `; last error: ${d.last_error.slice(0, 120)}` : ''}.`,
    );
  if (v.storage.unreadable) lines.push(`Budgets and spend could not be read: ${v.storage.unreadable}`);
  if (c.unload_suggestions.length > 0)
    lines.push(`To free context, unload: ${c.unload_suggestions.join(', ')}.`);
  return lines.join('\n');
}
