/** Every provider call's real token usage and cost, append-only, with summaries for cost_summary. */
import type { AppendLog } from '../storage/appendLog.js';

export interface UsageRecord {
  at: string;
  provider: string;
  model: string;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
  /** `unknown_model` when priced at the conservative default. */
  price_basis: 'list' | 'unknown_model';
  ok: boolean;
  operation: string;
}

export interface UsageTotals {
  calls: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
}

export interface UsageSummary {
  today: UsageTotals;
  month: UsageTotals;
  all_time: UsageTotals;
  by_model: Array<{ provider: string; model: string; price_basis: string } & UsageTotals>;
}

const zero = (): UsageTotals => ({ calls: 0, input_tokens: 0, output_tokens: 0, cost_usd: 0 });

function add(t: UsageTotals, r: UsageRecord): void {
  t.calls++;
  t.input_tokens += r.input_tokens;
  t.output_tokens += r.output_tokens;
  t.cost_usd += r.cost_usd;
}

export async function summarizeUsage(
  log: AppendLog<UsageRecord>,
  now: Date,
  provider?: string,
): Promise<UsageSummary> {
  const today = now.toISOString().slice(0, 10);
  const month = today.slice(0, 7);
  const out: UsageSummary = { today: zero(), month: zero(), all_time: zero(), by_model: [] };
  const models = new Map<string, UsageSummary['by_model'][number]>();
  for (const r of await log.readAll()) {
    if (provider && r.provider !== provider) continue;
    add(out.all_time, r);
    if (r.at.startsWith(month)) add(out.month, r);
    if (r.at.startsWith(today)) add(out.today, r);
    const key = `${r.provider}/${r.model}`;
    const m = models.get(key) ?? {
      provider: r.provider,
      model: r.model,
      price_basis: r.price_basis,
      ...zero(),
    };
    add(m, r);
    models.set(key, m);
  }
  out.by_model = [...models.values()].sort((a, b) => b.cost_usd - a.cost_usd);
  return out;
}
