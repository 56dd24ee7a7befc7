/**
 * Assembles the dashboard from the failure memory, the alerts, spend, flaky prompts and runs, for
 * the immune_dashboard tool, the MCP resource and the desk's `/` page.
 */
import { redactDeep } from '../../safety/redact.js';
import type { Redactor } from '../../safety/redact.js';
import { spendSplit } from '../../cost/usage.js';
import type { UsageRecord } from '../../cost/usage.js';
import { nodeLevels } from '../../runs/runModel.js';
import type { AlertCounts, Dashboard, RunGraph } from './render.js';
import type { Run } from '../../runs/runModel.js';
import type { Supervisor } from '../../runs/supervisor/supervisor.js';
import type { Clock } from '../../core/clock.js';
import type { CaseBook } from '../../evaluation/cases.js';
import type { AlertEngine } from '../../immune/alerting/alerts.js';
import type { Federation } from '../../immune/federation/federation.js';
import type { ImmuneSystem } from '../../immune/immuneSystem.js';
import type { AppendLog } from '../../storage/appendLog.js';

/** Where the dashboard's figures come from. */
export interface DashboardSources {
  alerts: AlertEngine;
  cases: CaseBook;
  clock: Clock;
  federation: Federation;
  immune: ImmuneSystem;
  redact: Redactor;
  runs: Supervisor;
  usage: AppendLog<UsageRecord>;
}

export const DASHBOARD_URI = 'task-orchestrator://immune/dashboard';

export async function buildDashboard(services: DashboardSources, days: number): Promise<Dashboard> {
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
