/**
 * model: "auto" — picks a provider and model among the configured ones from what the call needs:
 * the archetype's kind of work, the output size, structured output, and a cost ceiling. Models
 * are the priced ones of each configured provider plus its default; tiers come from list prices.
 */
import { AppError } from '../core/errors.js';
import type { Pricing } from '../cost/pricing.js';
import type { ProviderName } from './providers/types.js';
import type { ServedModels } from './spawn.js';

export type Tier = 'fast' | 'balanced' | 'strong';

export interface SelectionNeeds {
  archetype?: string | undefined;
  promptChars: number;
  maxTokens?: number | undefined;
  structuredOutput: boolean;
  /** Largest acceptable worst-case cost of the call, in USD. */
  maxCostUsd?: number | undefined;
  /** Whether a model may do this work (interview profiles); default: every model may. */
  eligible?: (provider: ProviderName, model: string) => { ok: boolean; reason?: string | undefined };
  /** Now (epoch ms): retired models are never picked, retiring ones only when nothing else fits. */
  now?: number | undefined;
}

export interface ModelChoice {
  provider: ProviderName;
  model: string;
  tier: Tier;
  worst_case_usd: number;
  reason: string;
}

const REASONING = new Set(['architect', 'debugger', 'reviewer', 'researcher']);
const LIGHT = new Set(['tester', 'documenter']);
/** Providers whose API enforces a JSON schema (others are asked in the prompt). */
const NATIVE_SCHEMA = new Set<ProviderName>(['openai', 'gemini']);

function tierOf(outputPerMtok: number): Tier {
  return outputPerMtok <= 1 ? 'fast' : outputPerMtok <= 10 ? 'balanced' : 'strong';
}

const RANK: Record<Tier, number> = { fast: 0, balanced: 1, strong: 2 };

/** @throws AppError NO_PROVIDER / BUDGET_EXCEEDED when nothing configured fits. */
export function selectModel(
  configured: ReadonlyArray<{ name: ProviderName; defaultModel: string; served?: ServedModels | undefined }>,
  pricedModels: readonly string[],
  pricing: Pricing,
  needs: SelectionNeeds,
): ModelChoice {
  const wanted: Tier =
    REASONING.has(needs.archetype ?? '') || needs.promptChars > 60_000
      ? 'strong'
      : LIGHT.has(needs.archetype ?? '')
        ? 'fast'
        : 'balanced';
  const outTokens = needs.maxTokens ?? 4096;
  const inTokens = Math.ceil(needs.promptChars / 3) + 16;
  const candidates = configured.flatMap((p) => {
    // An endpoint that lists its models offers exactly those; otherwise the vendor's price list.
    const models =
      p.served?.source === 'endpoint'
        ? new Set(p.served.models)
        : new Set([
            p.defaultModel,
            ...pricedModels.filter((m) => m.startsWith(`${p.name}/`)).map((m) => m.slice(p.name.length + 1)),
          ]);
    return [...models].flatMap((model) => {
      const life =
        needs.now === undefined ? { status: 'active' } : pricing.lifecycle(p.name, model, needs.now);
      if (life.status === 'retired') return [];
      const price = pricing.price(p.name, model);
      return [
        {
          provider: p.name,
          model,
          tier: price.basis === 'list' ? tierOf(price.output_per_mtok) : 'balanced',
          worst: pricing.cost(p.name, model, inTokens, outTokens),
          listed: price.basis === 'list',
          retiring: life.status === 'retiring',
        },
      ];
    });
  });
  if (candidates.length === 0)
    throw new AppError('NO_PROVIDER', 'No LLM provider is configured', {
      hint: 'Set a provider key (see doctor)',
    });
  const refused: string[] = [];
  const fit = candidates.filter((c) => {
    const e = needs.eligible?.(c.provider, c.model) ?? { ok: true };
    if (!e.ok) refused.push(e.reason ?? `${c.provider}/${c.model}`);
    return e.ok;
  });
  if (fit.length === 0)
    throw new AppError('NO_PROVIDER', `No configured model may do this work: ${refused.join('; ')}`, {
      hint: 'Re-interview a model (worker_interview), configure another, or name provider and model explicitly',
    });
  const affordable = needs.maxCostUsd === undefined ? fit : fit.filter((c) => c.worst <= needs.maxCostUsd!);
  if (affordable.length === 0) {
    const cheapest = [...fit].sort((a, b) => a.worst - b.worst)[0]!;
    throw new AppError(
      'BUDGET_EXCEEDED',
      `No configured model fits max_cost_usd $${needs.maxCostUsd}: the cheapest (${cheapest.provider}/${cheapest.model}) may cost $${cheapest.worst.toFixed(4)}`,
      {
        hint: 'Raise max_cost_usd or lower max_tokens',
      },
    );
  }
  const score = (c: (typeof candidates)[number]) =>
    Math.abs(RANK[c.tier] - RANK[wanted]) * 10 +
    (needs.structuredOutput && !NATIVE_SCHEMA.has(c.provider) ? 5 : 0) +
    (c.listed ? 0 : 3);
  const best = [...affordable].sort(
    (a, b) => Number(a.retiring) - Number(b.retiring) || score(a) - score(b) || a.worst - b.worst,
  )[0]!;
  const served = configured.find((p) => p.name === best.provider)?.served;
  const reasons = [
    `${wanted} tier wanted${needs.archetype ? ` for ${needs.archetype}` : ''}; ${best.provider}/${best.model} is ${best.tier}${best.listed ? '' : ' (no list price: assumed balanced)'}`,
    served?.source === 'endpoint'
      ? `served by its endpoint (${served.models.length} model(s) listed there)`
      : served?.source === 'unlisted'
        ? `${served.reason}: chose from the vendor's price list`
        : '',
    needs.structuredOutput
      ? NATIVE_SCHEMA.has(best.provider)
        ? 'enforces the JSON schema natively'
        : 'schema asked for in the prompt'
      : '',
    refused.length ? `skipped ${refused.join('; ')}` : '',
    needs.maxCostUsd !== undefined
      ? `worst case $${best.worst.toFixed(4)} within $${needs.maxCostUsd}`
      : `cheapest of its tier (worst case $${best.worst.toFixed(4)})`,
  ].filter(Boolean);
  return {
    provider: best.provider,
    model: best.model,
    tier: best.tier,
    worst_case_usd: Number(best.worst.toFixed(6)),
    reason: reasons.join('; '),
  };
}

/**
 * The model an LLM judge runs on: the cheapest active model of pricing's judge tier among the
 * configured providers, other than the model being judged when the tier has another; else the
 * judged model itself if it is of the tier (a judge must stay cheap); else the cheapest other
 * model, else the cheapest. A provider behind its own endpoint (OPENAI_BASE_URL at a local
 * server) offers only its default model: the vendor's catalogue is not there.
 */
export function selectJudge(
  configured: ReadonlyArray<{ name: ProviderName; defaultModel: string; catalogue: boolean }>,
  pricing: Pricing,
  judged: { provider: string; model: string } | undefined,
  now: number,
): { provider: ProviderName; model: string } | undefined {
  const candidates = configured.flatMap((p) => {
    const models = new Set([
      p.defaultModel,
      ...(p.catalogue
        ? pricing
            .models()
            .filter((m) => m.startsWith(`${p.name}/`))
            .map((m) => m.slice(p.name.length + 1))
        : []),
    ]);
    return [...models]
      .filter((model) => pricing.lifecycle(p.name, model, now).status === 'active')
      .map((model) => {
        const price = pricing.price(p.name, model);
        return {
          provider: p.name,
          model,
          tier: price.basis === 'list' ? tierOf(price.output_per_mtok) : 'balanced',
          cost: price.input_per_mtok * 3 + price.output_per_mtok,
        };
      });
  });
  const other = (c: (typeof candidates)[number]) =>
    !(c.provider === judged?.provider && c.model === judged.model);
  const inTier = (c: (typeof candidates)[number]) => c.tier === pricing.judgeTier;
  const pools = [
    candidates.filter((c) => inTier(c) && other(c)),
    candidates.filter(inTier),
    candidates.filter(other),
    candidates,
  ];
  const best = [...(pools.find((p) => p.length > 0) ?? [])].sort(
    (a, b) => a.cost - b.cost || a.provider.localeCompare(b.provider),
  )[0];
  return best && { provider: best.provider, model: best.model };
}
