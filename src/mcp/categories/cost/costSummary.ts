import { z } from 'zod';
import { PROVIDER_NAMES } from '../../../config/defaults.js';
import { summarizeUsage } from '../../../cost/usage.js';
import type { Services } from '../../services.js';
import { defineTool, ok } from '../../tool.js';

const input = z
  .object({
    provider: z.enum(PROVIDER_NAMES).optional().describe('Only this provider'),
  })
  .strict();

const totals = z.object({
  calls: z.number(),
  input_tokens: z.number(),
  output_tokens: z.number(),
  cost_usd: z.number(),
});
const output = z.object({
  today: totals,
  month: totals,
  all_time: totals,
  by_model: z.array(totals.extend({ provider: z.string(), model: z.string(), price_basis: z.string() })),
  budgets: z.array(
    z.object({
      provider: z.string(),
      limits: z.object({ daily_usd: z.number().optional(), monthly_usd: z.number().optional() }),
      today_usd: z.number(),
      month_usd: z.number(),
      reserved_usd: z.number(),
      remaining_today_usd: z.number().optional(),
      remaining_month_usd: z.number().optional(),
    }),
  ),
  prices_as_of: z.string(),
});

const usd = (n: number) => `$${n.toFixed(4)}`;

export function costSummary(services: Pick<Services, 'budget' | 'clock' | 'pricing' | 'spawn' | 'usage'>) {
  return defineTool({
    name: 'cost_summary',
    title: 'LLM spending',
    description:
      'Spending on LLM calls from real token usage: today, this month and all time, per provider and model, with each budget and what remains. Models without a list price are marked unknown_model (priced conservatively).',
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(args) {
      const now = new Date(services.clock.now());
      const summary = await summarizeUsage(services.usage, now, args.provider);
      const budgets = (await services.budget.standings(services.spawn.configured)).filter(
        (b) => !args.provider || b.provider === args.provider,
      );
      const asOf = services.pricing.price('openai', '').as_of;
      const text = [
        `Today ${usd(summary.today.cost_usd)} (${summary.today.calls} calls), this month ${usd(summary.month.cost_usd)}, all time ${usd(summary.all_time.cost_usd)}. Prices as of ${asOf}.`,
        ...summary.by_model
          .slice(0, 20)
          .map(
            (m) =>
              `${m.provider}/${m.model}: ${m.calls} calls, ${m.input_tokens}+${m.output_tokens} tokens, ${usd(m.cost_usd)}${m.price_basis === 'unknown_model' ? ' (no list price: priced conservatively)' : ''}`,
          ),
        ...budgets.map(
          (b) =>
            `Budget ${b.provider}: ${b.limits.daily_usd !== undefined ? `day ${usd(b.today_usd)} of ${usd(b.limits.daily_usd)}` : 'no daily limit'}, ${b.limits.monthly_usd !== undefined ? `month ${usd(b.month_usd)} of ${usd(b.limits.monthly_usd)}` : 'no monthly limit'}`,
        ),
      ];
      return ok(
        { ...summary, by_model: summary.by_model.slice(0, 50), budgets, prices_as_of: asOf },
        text.join('\n'),
      );
    },
  });
}
