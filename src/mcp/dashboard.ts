/**
 * Assembles the immune dashboard from the failure memory and the alerts, for the immune_dashboard
 * tool, the MCP resource and the `dashboard` command.
 */
import { redactDeep } from '../safety/redact.js';
import type { AlertCounts, Dashboard } from '../immune/dashboard/dashboardRender.js';
import type { Services } from './services.js';

export const DASHBOARD_URI = 'task-orchestrator://immune/dashboard';

export async function buildDashboard(
  services: Pick<Services, 'alerts' | 'federation' | 'immune' | 'redact'>,
  days: number,
): Promise<Dashboard> {
  const [data, syncAlerts, ruleAlerts] = await Promise.all([
    services.immune.dashboard(days),
    services.federation.alerts(),
    services.alerts.counts(),
  ]);
  const alerts: AlertCounts = {
    total: ruleAlerts.total,
    by_severity: { ...ruleAlerts.by_severity },
    by_kind: { ...ruleAlerts.by_rule },
  };
  for (const a of syncAlerts) {
    alerts.total++;
    alerts.by_severity[a.severity] = (alerts.by_severity[a.severity] ?? 0) + 1;
    alerts.by_kind[a.kind] = (alerts.by_kind[a.kind] ?? 0) + 1;
  }
  // Pattern examples and alert texts are stored redacted; this process's own recent ones may not be yet.
  return redactDeep({ ...data, alerts }, services.redact);
}
