import { z } from 'zod';
import { PROVIDER_NAMES } from '../../../config/defaults.js';
import type { Services } from '../../services.js';
import { defineTool, ok } from '../../tool.js';

const input = z
  .object({
    provider: z.enum(PROVIDER_NAMES).describe('Whose budget'),
    daily_usd: z
      .number()
      .min(0)
      .max(1_000_000)
      .nullable()
      .optional()
      .describe('Daily limit in USD; null removes it'),
    monthly_usd: z
      .number()
      .min(0)
      .max(10_000_000)
      .nullable()
      .optional()
      .describe('Monthly limit in USD; null removes it'),
  })
  .strict();

const output = z.object({
  provider: z.string(),
  limits: z.object({ daily_usd: z.number().optional(), monthly_usd: z.number().optional() }),
  today_usd: z.number(),
  month_usd: z.number(),
  reserved_usd: z.number(),
  remaining_today_usd: z.number().optional(),
  remaining_month_usd: z.number().optional(),
});

export function costSetBudget(services: Pick<Services, 'budget'>) {
  return defineTool({
    name: 'cost_set_budget',
    title: 'Set a spending limit',
    description:
      "Set or remove a provider's daily and monthly spending limits (USD). Calls that could exceed a limit are refused before they are made, with the figures; limits lift by themselves the next day or month.",
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(args) {
      const current =
        (await services.budget.standings([args.provider])).find((b) => b.provider === args.provider)
          ?.limits ?? {};
      const next = { ...current };
      if (args.daily_usd === null) delete next.daily_usd;
      else if (args.daily_usd !== undefined) next.daily_usd = args.daily_usd;
      if (args.monthly_usd === null) delete next.monthly_usd;
      else if (args.monthly_usd !== undefined) next.monthly_usd = args.monthly_usd;
      const standing = await services.budget.setLimits(args.provider, next);
      const d = standing.limits.daily_usd;
      const m = standing.limits.monthly_usd;
      return ok(
        standing,
        `${args.provider}: daily ${d === undefined ? 'unlimited' : `$${d}`} (spent $${standing.today_usd.toFixed(4)}), monthly ${m === undefined ? 'unlimited' : `$${m}`} (spent $${standing.month_usd.toFixed(4)}).`,
      );
    },
  });
}
