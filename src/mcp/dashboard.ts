/**
 * Assembles the immune dashboard from the failure memory and the alerts, for the immune_dashboard
 * tool, the MCP resource and the `dashboard` command.
 */
import { redactDeep } from '../safety/redact.js';
import { spendSplit } from '../cost/usage.js';
import { nodeLevels } from '../runs/runModel.js';
import type { AlertCounts, Dashboard, RunGraph } from '../immune/dashboard/dashboardRender.js';
import type { Run } from '../runs/runModel.js';
import type { Services } from './services.js';

export const DASHBOARD_URI = 'task-orchestrator://immune/dashboard';

export async function buildDashboard(
  services: Pick<
    Services,
    'alerts' | 'cases' | 'clock' | 'federation' | 'immune' | 'redact' | 'runs' | 'usage'
  >,
  days: number,
): Promise<Dashboard> {
  const [data, syncAlerts, ruleAlerts, usage, flaky, runs] = await Promise.all([
    services.immune.dashboard(days),
    services.federation.alerts(),
    services.alerts.counts(),
    services.usage.readAll(),
    services.cases.flaky(20),
    services.runs.list(),
  ]);
  const spend = spendSplit(usage, services.clock.now() - days * 86_400_000);
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
  return redactDeep(
    {
      ...data,
      alerts,
      spend,
      runs: runs.slice(0, 5).map(runGraph),
      flaky: flaky.map(({ prompt, model, runs, pass_rate }) => ({ prompt, model, runs, pass_rate })),
    },
    services.redact,
  );
}

/** A supervisor run as the dashboard and the review desk draw it. */
export function runGraph(r: Run): RunGraph {
  const levels = nodeLevels(r);
  return {
    id: r.id,
    title: r.title,
    status: r.status,
    spent_usd: r.spent_usd,
    nodes: r.order.map((id) => {
      const n = r.nodes[id]!;
      return {
        task: id,
        title: n.title,
        state: n.state,
        level: levels.get(id) ?? 0,
        depends_on: n.depends_on.map((x) => x.task),
        ...(n.worker ? { worker: n.worker } : {}),
      };
    }),
  };
}
