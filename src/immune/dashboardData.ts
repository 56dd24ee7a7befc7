/** Everything the immune dashboard shows, computed from the memory's state. */
import { emptyDay, HOUR, PRUNE_STRENGTH, strengthAt } from './patterns.js';
import type { DayStats, ImmuneState } from './patterns.js';

export interface DashboardData {
  generated_at: string;
  days: number;
  health: {
    score: number;
    status: 'healthy' | 'degraded' | 'unhealthy';
    patterns: number;
    imported: number;
    weak: number;
    average_strength: number;
  };
  totals: DayStats;
  /** saves / (saves + failures of guarded prompts); null when no guarded prompt ran. */
  guardrail_success_rate: number | null;
  trend: Array<{ date: string } & DayStats>;
  by_failure_type: Record<string, number>;
  by_operation: Record<string, number>;
  /** Occurrences by whose work failed: claude_code (its hooks), spawn_agent, ... */
  by_source: Record<string, number>;
  by_model: Record<string, number>;
  top_patterns: Array<{
    id: string;
    failure_type: string;
    operation: string;
    occurrences: number;
    hits: number;
    saves: number;
    strength: number;
    last_seen: string;
    prompt_summary: string;
    source_project?: string;
  }>;
}

/** Everything the dashboard shows, over the last `days` days. */
export function dashboardOf(state: ImmuneState, days: number, nowMs: number): DashboardData {
  {
    const trend: DashboardData['trend'] = [];
    const totals = emptyDay();
    for (let i = days - 1; i >= 0; i--) {
      const date = new Date(nowMs - i * 24 * HOUR).toISOString().slice(0, 10);
      const d = state.days.get(date);
      const row = {
        date,
        ...(d ?? emptyDay()),
      };
      trend.push(row);
      for (const k of Object.keys(totals) as Array<keyof typeof totals>) totals[k] += row[k];
    }
    const byType: Record<string, number> = {};
    const byOperation: Record<string, number> = {};
    const bySource: Record<string, number> = {};
    const byModel: Record<string, number> = {};
    let strengthSum = 0;
    let weak = 0;
    let imported = 0;
    const all = [...state.patterns.values()];
    for (const p of all) {
      byType[p.failure_type] = (byType[p.failure_type] ?? 0) + p.occurrences;
      byOperation[p.operation] = (byOperation[p.operation] ?? 0) + p.occurrences;
      const source = p.source ?? p.operation.split(':')[0]!;
      bySource[source] = (bySource[source] ?? 0) + p.occurrences;
      const model = p.model ?? 'unknown';
      byModel[model] = (byModel[model] ?? 0) + p.occurrences;
      const s = strengthAt(p, nowMs);
      strengthSum += s;
      if (s < PRUNE_STRENGTH) weak++;
      if (p.origin) imported++;
    }
    const top = all
      .sort((a, b) => b.occurrences - a.occurrences || b.last_seen.localeCompare(a.last_seen))
      .slice(0, 10)
      .map((p) => ({
        id: p.id,
        failure_type: p.failure_type,
        operation: p.operation,
        occurrences: p.occurrences,
        hits: p.hits,
        saves: p.saves,
        strength: Number(strengthAt(p, nowMs).toFixed(3)),
        last_seen: p.last_seen,
        prompt_summary: p.prompt_summary.slice(0, 120),
        ...(p.origin ? { source_project: p.origin.project } : {}),
      }));
    const guardedOutcomes = totals.saves + totals.guarded_failures;
    const avgStrength = all.length ? strengthSum / all.length : 0;
    // Health: 100 with no failures in the window, lower as failures outpace saves and checks get blocked.
    const pressure = totals.failures / Math.max(1, totals.failures + totals.saves + totals.checks);
    const health = Math.round(100 * (1 - pressure));
    return {
      generated_at: new Date(nowMs).toISOString(),
      days,
      health: {
        score: health,
        status: health >= 80 ? 'healthy' : health >= 50 ? 'degraded' : 'unhealthy',
        patterns: all.length,
        imported,
        weak,
        average_strength: Number(avgStrength.toFixed(3)),
      },
      totals,
      guardrail_success_rate: guardedOutcomes ? Number((totals.saves / guardedOutcomes).toFixed(4)) : null,
      trend,
      by_failure_type: byType,
      by_operation: byOperation,
      by_source: bySource,
      by_model: byModel,
      top_patterns: top,
    };
  }
}
