/** What an alert is; shared by the rules and the notifiers. */
export type Severity = 'info' | 'warning' | 'critical';
export type AlertRule = 'HighRiskThreshold' | 'FrequencySpike' | 'NewPatternDetected' | 'ConsecutiveFailures';

export const SEVERITY_RANK: Record<Severity, number> = { info: 0, warning: 1, critical: 2 };

export interface Delivery {
  channel: string;
  ok: boolean;
  attempts: number;
  status?: number;
  error?: string;
  at: string;
}

export interface Alert {
  id: string;
  rule: AlertRule;
  severity: Severity;
  /** Alerts with the same key within the cooldown merge. */
  key: string;
  title: string;
  message: string;
  details: Record<string, string | number | boolean>;
  /** Times it fired (merged repeats included). */
  count: number;
  first_at: string;
  last_at: string;
  /** When a merged repeat raised its severity (and notified again). */
  escalated_at?: string;
  cleared_at?: string;
  deliveries: Delivery[];
}
