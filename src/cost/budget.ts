/**
 * Daily and monthly budgets per provider, shared by every server process on the state folder.
 * Before a call its worst-case cost is reserved atomically (under the store's cross-process
 * lock); after it, the real cost settles. A reservation left by a crashed process expires, and a
 * new day or month starts from zero by itself, so no state can lock the server up.
 */
import { AppError } from '../core/errors.js';
import type { Clock } from '../core/clock.js';
import { newId } from '../core/ids.js';
import type { Result } from '../core/errors.js';
import type { DocumentStore } from '../storage/documentStore.js';

export interface BudgetLimits {
  daily_usd?: number;
  monthly_usd?: number;
}

export interface BudgetDoc {
  limits: Record<string, BudgetLimits>;
  spent: Record<string, { day: string; day_usd: number; month: string; month_usd: number }>;
  reservations: Record<string, { provider: string; amount_usd: number; expires_at: number }>;
}

export const EMPTY_BUDGETS: BudgetDoc = { limits: {}, spent: {}, reservations: {} };

/** The reservation of a call to a provider without limits (nothing was written). */
const UNLIMITED = 'rsv_unlimited';

/** Reservations older than this are considered abandoned (the call cannot still be running). */
const RESERVATION_TTL_MS = 15 * 60_000;

function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export interface BudgetStanding {
  provider: string;
  limits: BudgetLimits;
  today_usd: number;
  month_usd: number;
  reserved_usd: number;
  remaining_today_usd?: number;
  remaining_month_usd?: number;
}

export class BudgetGuard {
  constructor(
    private readonly store: DocumentStore<BudgetDoc>,
    private readonly clock: Clock,
  ) {}

  private tidy(doc: BudgetDoc, now: number): void {
    for (const [id, r] of Object.entries(doc.reservations))
      if (r.expires_at <= now) delete doc.reservations[id];
    for (const s of Object.values(doc.spent)) {
      if (s.day !== day(now)) {
        s.day = day(now);
        s.day_usd = 0;
      }
      if (s.month !== day(now).slice(0, 7)) {
        s.month = day(now).slice(0, 7);
        s.month_usd = 0;
      }
    }
  }

  private standing(doc: BudgetDoc, provider: string): BudgetStanding {
    const limits = doc.limits[provider] ?? {};
    const spent = doc.spent[provider];
    const reserved = Object.values(doc.reservations)
      .filter((r) => r.provider === provider)
      .reduce((sum, r) => sum + r.amount_usd, 0);
    const today = spent?.day_usd ?? 0;
    const month = spent?.month_usd ?? 0;
    return {
      provider,
      limits,
      today_usd: today,
      month_usd: month,
      reserved_usd: reserved,
      ...(limits.daily_usd !== undefined
        ? { remaining_today_usd: Math.max(0, limits.daily_usd - today - reserved) }
        : {}),
      ...(limits.monthly_usd !== undefined
        ? { remaining_month_usd: Math.max(0, limits.monthly_usd - month - reserved) }
        : {}),
    };
  }

  /** Reserves `amountUsd` for a call, or refuses with the figures when a budget would be exceeded. */
  async reserve(provider: string, amountUsd: number): Promise<Result<{ id: string }>> {
    // Without a limit there is nothing to refuse: skip the locked write (settle still counts the
    // spend). A limit set by another process while this call runs applies from the next call.
    const limited = await this.store.read((doc) => {
      const l = doc.limits[provider];
      return l !== undefined && (l.daily_usd !== undefined || l.monthly_usd !== undefined);
    });
    if (!limited) return { ok: true, value: { id: UNLIMITED } };
    // The store clones what a mutation returns, so return plain data and build the error here.
    const outcome = await this.store.update(
      (doc): { id: string } | { refused: string; standing: BudgetStanding } => {
        const now = this.clock.now();
        this.tidy(doc, now);
        const s = this.standing(doc, provider);
        const over =
          s.limits.daily_usd !== undefined && s.today_usd + s.reserved_usd + amountUsd > s.limits.daily_usd
            ? `daily budget $${s.limits.daily_usd.toFixed(4)} (spent $${s.today_usd.toFixed(4)}, reserved $${s.reserved_usd.toFixed(4)})`
            : s.limits.monthly_usd !== undefined &&
                s.month_usd + s.reserved_usd + amountUsd > s.limits.monthly_usd
              ? `monthly budget $${s.limits.monthly_usd.toFixed(4)} (spent $${s.month_usd.toFixed(4)}, reserved $${s.reserved_usd.toFixed(4)})`
              : undefined;
        if (over) return { refused: over, standing: s };
        const id = newId('rsv');
        doc.reservations[id] = { provider, amount_usd: amountUsd, expires_at: now + RESERVATION_TTL_MS };
        return { id };
      },
    );
    if (!('refused' in outcome)) return { ok: true, value: { id: outcome.id } };
    return {
      ok: false,
      error: new AppError(
        'BUDGET_EXCEEDED',
        `A ${provider} call costing up to $${amountUsd.toFixed(4)} would exceed the ${outcome.refused}`,
        {
          hint: 'Raise it with cost_set_budget, lower max_tokens, or wait for the next day/month; read-only tools keep working',
          details: { ...outcome.standing },
        },
      ),
    };
  }

  /** Replaces a reservation by the real cost (0 for a call that failed without usage). */
  async settle(reservation: string, provider: string, actualUsd: number): Promise<void> {
    await this.store.update((doc) => {
      const now = this.clock.now();
      delete doc.reservations[reservation];
      const s = (doc.spent[provider] ??= {
        day: day(now),
        day_usd: 0,
        month: day(now).slice(0, 7),
        month_usd: 0,
      });
      this.tidy(doc, now);
      s.day_usd += actualUsd;
      s.month_usd += actualUsd;
    });
  }

  async setLimits(provider: string, limits: BudgetLimits): Promise<BudgetStanding> {
    return this.store.update((doc) => {
      this.tidy(doc, this.clock.now());
      doc.limits[provider] = limits;
      return this.standing(doc, provider);
    });
  }

  async standings(providers: readonly string[]): Promise<BudgetStanding[]> {
    return this.store.read((doc) => {
      const copy = structuredClone(doc) as BudgetDoc;
      this.tidy(copy, this.clock.now());
      const names = [
        ...new Set([...providers, ...Object.keys(copy.limits), ...Object.keys(copy.spent)]),
      ].sort();
      return names.map((p) => this.standing(copy, p));
    });
  }
}
