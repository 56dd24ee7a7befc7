/**
 * Alerting on risky patterns. Rules look at every pre-spawn check and every trial:
 * - HighRiskThreshold: a prompt's risk at or above the threshold (critical when it was blocked);
 * - FrequencySpike: more than N failures within an hour;
 * - NewPatternDetected: a failure unlike any remembered one;
 * - ConsecutiveFailures: N failing trials in a row of one operation and model (a pass resets it).
 * An alert whose key fired within the cooldown is merged into the earlier one (its count grows)
 * instead of notifying again. Alerts persist with bounded history; notifiers run off the spawn's
 * path, and a failing notifier never breaks a spawn.
 */
import type { Clock } from '../../core/clock.js';
import { isoTime } from '../../core/clock.js';
import { AppError } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import type { Logger } from '../../core/logger.js';
import { paginate } from '../../core/pagination.js';
import type { Page, PageRequest } from '../../core/pagination.js';
import type { DocumentStore } from '../../storage/documentStore.js';
import type { Notifier } from './notifiers.js';
import type { Alert, Delivery, Severity } from './types.js';
export type { Alert, AlertRule, Delivery, Severity } from './types.js';
import { SEVERITY_RANK } from './types.js';

export interface AlertDoc {
  alerts: Alert[];
  /** Failure times within the last hour (for FrequencySpike). */
  recent_failures: string[];
  /** operation|model -> consecutive failing trials. */
  streaks: Record<string, number>;
}

export const EMPTY_ALERTS: AlertDoc = { alerts: [], recent_failures: [], streaks: {} };

export interface AlertThresholds {
  /** HighRiskThreshold fires at this risk. Default 0.8. */
  risk: number;
  /** FrequencySpike fires above this many failures in an hour. Default 5. */
  spikePerHour: number;
  /** ConsecutiveFailures fires at this many failures in a row. Default 3. */
  consecutive: number;
  /** Repeats of one alert within this many seconds merge. Default 900. */
  cooldownS: number;
  /** Notifiers are told of alerts at or above this severity. Default warning. */
  notifyAtLeast: Severity;
}

const HISTORY = 500;
const HOUR = 3_600_000;

type Candidate = Pick<Alert, 'rule' | 'severity' | 'key' | 'title' | 'message' | 'details'>;

export class AlertEngine {
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly doc: DocumentStore<AlertDoc>,
    private readonly notifiers: readonly Notifier[],
    private readonly thresholds: AlertThresholds,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  /** The pre-spawn verdict on a prompt. */
  async onCheck(check: {
    risk: number;
    should_proceed: boolean;
    operation: string;
    prompt: string;
    matches: ReadonlyArray<{ pattern_id: string; failure_type: string }>;
    predicted_risk?: number | undefined;
  }): Promise<Alert[]> {
    if (check.risk < this.thresholds.risk) return [];
    const top = check.matches[0];
    return this.raise([
      {
        rule: 'HighRiskThreshold',
        severity: check.should_proceed ? 'warning' : 'critical',
        key: `high_risk:${check.operation}:${top?.pattern_id ?? 'predicted'}`,
        title: check.should_proceed ? 'High-risk prompt' : 'High-risk prompt blocked',
        message: `A ${check.operation} prompt scored risk ${check.risk}${top ? ` (resembles a ${top.failure_type} failure, ${top.pattern_id})` : ''}${check.should_proceed ? '' : '; it was blocked before any provider call'}: "${check.prompt.slice(0, 120)}"`,
        details: {
          risk: check.risk,
          operation: check.operation,
          blocked: !check.should_proceed,
          ...(top ? { pattern_id: top.pattern_id, failure_type: top.failure_type } : {}),
          ...(check.predicted_risk !== undefined ? { predicted_risk: check.predicted_risk } : {}),
        },
      },
    ]);
  }

  /** A recorded trial (a real provider answer or provider failure). */
  async onTrial(t: {
    operation: string;
    model: string;
    pass: boolean;
    failure_type?: string | undefined;
    trial_id: string;
    new_pattern?: { id: string; failure_type: string; prompt: string } | undefined;
  }): Promise<Alert[]> {
    const at = isoTime(this.clock);
    const now = this.clock.now();
    const key = `${t.operation}|${t.model}`;
    const { streak, lastHour } = await this.doc.update((d) => {
      d.streaks[key] = t.pass ? 0 : (d.streaks[key] ?? 0) + 1;
      if (t.pass) delete d.streaks[key];
      if (!t.pass) d.recent_failures.push(at);
      const cutoff = new Date(now - HOUR).toISOString();
      d.recent_failures = d.recent_failures.filter((x) => x >= cutoff).slice(-1000);
      return { streak: d.streaks[key] ?? 0, lastHour: d.recent_failures.length };
    });
    if (t.pass) return [];
    const out: Candidate[] = [];
    if (t.new_pattern)
      out.push({
        rule: 'NewPatternDetected',
        severity: 'info',
        key: `new_pattern:${t.new_pattern.id}`,
        title: 'New failure pattern',
        message: `A new ${t.new_pattern.failure_type} failure of ${t.operation} (${t.model}): "${t.new_pattern.prompt.slice(0, 120)}"`,
        details: {
          pattern_id: t.new_pattern.id,
          failure_type: t.new_pattern.failure_type,
          operation: t.operation,
        },
      });
    if (lastHour > this.thresholds.spikePerHour)
      out.push({
        rule: 'FrequencySpike',
        severity: 'warning',
        key: 'frequency_spike',
        title: 'Failure spike',
        message: `${lastHour} failures in the last hour (threshold ${this.thresholds.spikePerHour})`,
        details: { failures_last_hour: lastHour, threshold: this.thresholds.spikePerHour },
      });
    if (streak >= this.thresholds.consecutive)
      out.push({
        rule: 'ConsecutiveFailures',
        severity: streak >= this.thresholds.consecutive * 2 ? 'critical' : 'warning',
        key: `consecutive:${key}`,
        title: 'Consecutive failures',
        message: `${streak} failures in a row of ${t.operation} on ${t.model} (last: ${t.failure_type ?? 'failed'}, trial ${t.trial_id})`,
        details: { consecutive: streak, operation: t.operation, model: t.model, trial_id: t.trial_id },
      });
    return this.raise(out);
  }

  /**
   * Stores candidates (merging repeats within the cooldown) and notifies about the new ones and
   * about merged ones whose severity rose (an escalation).
   */
  private async raise(candidates: Candidate[]): Promise<Alert[]> {
    if (candidates.length === 0) return [];
    const at = isoTime(this.clock);
    const cutoff = new Date(this.clock.now() - this.thresholds.cooldownS * 1000).toISOString();
    const fresh = await this.doc.update((d) => {
      const created: Alert[] = [];
      for (const c of candidates) {
        const recent = d.alerts.findLast((a) => a.key === c.key && !a.cleared_at && a.last_at >= cutoff);
        if (recent) {
          recent.count++;
          recent.last_at = at;
          recent.message = c.message;
          recent.details = c.details;
          if (SEVERITY_RANK[c.severity] > SEVERITY_RANK[recent.severity]) {
            // An escalation is news: notify again, at the new severity, with the merged count.
            recent.severity = c.severity;
            recent.escalated_at = at;
            created.push(structuredClone(recent));
          }
          continue;
        }
        const alert: Alert = { id: newId('alr'), ...c, count: 1, first_at: at, last_at: at, deliveries: [] };
        d.alerts.push(alert);
        created.push(alert);
      }
      if (d.alerts.length > HISTORY) d.alerts.splice(0, d.alerts.length - HISTORY);
      return created;
    });
    for (const alert of fresh) this.notify(alert);
    return fresh;
  }

  private notify(alert: Alert): void {
    if (SEVERITY_RANK[alert.severity] < SEVERITY_RANK[this.thresholds.notifyAtLeast]) return;
    for (const n of this.notifiers) {
      const job = n
        .send(alert)
        .catch((error: unknown): Delivery => ({
          channel: n.channel,
          ok: false,
          attempts: 0,
          error: error instanceof Error ? error.message : String(error),
          at: isoTime(this.clock),
        }))
        .then(async (delivery) => {
          if (!delivery.ok)
            this.logger.warn('alert notifier failed', { channel: n.channel, error: delivery.error });
          await this.doc.update((d) => {
            d.alerts.find((a) => a.id === alert.id)?.deliveries.push(delivery);
          });
        })
        .catch((error: unknown) => this.logger.warn('alert delivery not recorded', { error }))
        .finally(() => this.pending.delete(job));
      this.pending.add(job);
    }
  }

  /** Runs rule evaluation off the caller's path (a spawn never waits for or fails on alerting). */
  background(job: () => Promise<unknown>): void {
    const p: Promise<void> = job()
      .then(() => undefined)
      .catch((error: unknown) => this.logger.warn('alert rules failed', { error }))
      .finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  /** Resolves when every notification sent so far has finished (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending]);
  }

  async list(
    q: PageRequest & { severity?: Severity | undefined; include_cleared?: boolean | undefined },
  ): Promise<Page<Alert>> {
    return this.doc.read((d) => {
      const all = [...d.alerts]
        .reverse()
        .filter((a) => q.include_cleared || !a.cleared_at)
        .filter((a) => !q.severity || SEVERITY_RANK[a.severity] >= SEVERITY_RANK[q.severity]);
      return paginate(structuredClone(all), q);
    });
  }

  /** Active alerts counted by severity and rule (for the dashboard). */
  async counts(): Promise<{
    total: number;
    by_severity: Record<string, number>;
    by_rule: Record<string, number>;
  }> {
    return this.doc.read((d) => {
      const out = {
        total: 0,
        by_severity: {} as Record<string, number>,
        by_rule: {} as Record<string, number>,
      };
      for (const a of d.alerts) {
        if (a.cleared_at) continue;
        out.total++;
        out.by_severity[a.severity] = (out.by_severity[a.severity] ?? 0) + 1;
        out.by_rule[a.rule] = (out.by_rule[a.rule] ?? 0) + 1;
      }
      return out;
    });
  }

  /**
   * Clears one alert or all active ones.
   * @throws AppError NOT_FOUND for an unknown or already cleared id.
   */
  async clear(target: { id: string } | { all: true }): Promise<{ cleared: number }> {
    const at = isoTime(this.clock);
    return this.doc.update((d) => {
      if ('id' in target) {
        const a = d.alerts.find((x) => x.id === target.id);
        if (!a || a.cleared_at)
          throw new AppError('NOT_FOUND', `No active alert "${target.id}"`, {
            hint: 'alert_list shows the active alerts',
          });
        a.cleared_at = at;
        return { cleared: 1 };
      }
      let cleared = 0;
      for (const a of d.alerts)
        if (!a.cleared_at) {
          a.cleared_at = at;
          cleared++;
        }
      return { cleared };
    });
  }
}
