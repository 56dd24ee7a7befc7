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
  /** How long the answered call took (absent for failed calls and older records). */
  latency_ms?: number;
}

export interface SpendSplit {
  calls: number;
  cost_usd: number;
  /** Mean latency of answered calls, ms (null when none recorded one). */
  avg_latency_ms: number | null;
}

/** Agents' and judges' (operation `judge:*`) calls, cost and latency since `sinceMs`. */
export function spendSplit(
  records: readonly UsageRecord[],
  sinceMs: number,
): { agents: SpendSplit; judges: SpendSplit } {
  const acc = () => ({ calls: 0, cost: 0, latency: 0, timed: 0 });
  const a = acc();
  const j = acc();
  for (const r of records) {
    if (Date.parse(r.at) < sinceMs) continue;
    const x = r.operation.startsWith('judge:') ? j : a;
    x.calls++;
    x.cost += r.cost_usd;
    if (r.latency_ms !== undefined) {
      x.latency += r.latency_ms;
      x.timed++;
    }
  }
  const out = (x: ReturnType<typeof acc>): SpendSplit => ({
    calls: x.calls,
    cost_usd: Number(x.cost.toFixed(6)),
    avg_latency_ms: x.timed ? Math.round(x.latency / x.timed) : null,
  });
  return { agents: out(a), judges: out(j) };
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
