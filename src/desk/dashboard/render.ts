/**
 * The dashboard page: the failure memory, alerts, spend, flaky prompts and recent supervisor runs,
 * as markdown (for the model: immune_dashboard) and as a self-contained HTML page (for people: `/` of
 * the desk, `dashboard --out`, the MCP resource):
 * Chart.js is inlined from the installed package, the data is embedded as JSON, and nothing is
 * fetched from the network. The page marks `data-charts` / `data-painted` on <body> once its charts
 * have drawn, which the browser test reads.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { DashboardData } from '../../immune/dashboardData.js';
import { escapeHtml } from '../html.js';

export interface AlertCounts {
  total: number;
  by_severity: Record<string, number>;
  by_kind: Record<string, number>;
}

export interface SpendRow {
  calls: number;
  cost_usd: number;
  avg_latency_ms: number | null;
}

/** A supervisor run as the dashboard draws it: nodes placed by level, coloured by state. */
export interface RunGraph {
  id: string;
  title: string;
  status: string;
  spent_usd: number;
  nodes: Array<{
    task: string;
    title: string;
    state: string;
    level: number;
    depends_on: string[];
    worker?: string;
  }>;
}

export type Dashboard = DashboardData & {
  /** The most recent supervisor runs. */
  runs: RunGraph[];
  alerts: AlertCounts;
  /** Provider calls in the window: agents and LLM judges side by side. */
  spend: { agents: SpendRow; judges: SpendRow };
  /** Prompts that pass and fail alternately on their model (the memory waits before learning them). */
  flaky: Array<{ prompt: string; model: string; runs: number; pass_rate: number }>;
};

const spendText = (s: SpendRow) =>
  `${s.calls} calls, $${s.cost_usd}${s.avg_latency_ms === null ? '' : `, ${s.avg_latency_ms} ms avg`}`;

const require = createRequire(import.meta.url);
let chartJs: string | undefined;

/** Chart.js's UMD build, read once from the installed package. */
function chartLibrary(): string {
  chartJs ??= readFileSync(path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.min.js'), 'utf8');
  return chartJs;
}

function table(rows: Record<string, number>): string {
  const entries = Object.entries(rows).sort((a, b) => b[1] - a[1]);
  if (entries.length === 0) return '_none_\n';
  return `| | failures |\n|---|---:|\n${entries.map(([k, v]) => `| ${k} | ${v} |`).join('\n')}\n`;
}

export function renderMarkdown(d: Dashboard): string {
  const t = d.totals;
  const rate = d.guardrail_success_rate === null ? 'n/a' : `${Math.round(d.guardrail_success_rate * 100)}%`;
  const trend = d.trend
    .filter((r) => r.failures || r.checks || r.saves)
    .map((r) => `| ${r.date} | ${r.failures} | ${r.checks} | ${r.blocks} | ${r.saves} |`)
    .join('\n');
  return [
    `# Immune dashboard (last ${d.days} days, ${d.generated_at})`,
    '',
    `**Health ${d.health.score}/100 (${d.health.status})** · ${d.health.patterns} patterns (${d.health.imported} imported, ${d.health.weak} weak, average strength ${d.health.average_strength})`,
    '',
    `Failures ${t.failures} (new patterns ${t.new_patterns}) · checks ${t.checks} · blocks ${t.blocks} · hits ${t.hits} · saves ${t.saves} · guardrail success ${rate} · alerts ${d.alerts.total}`,
    '',
    '## Trend',
    trend
      ? `| day | failures | checks | blocks | saves |\n|---|---:|---:|---:|---:|\n${trend}\n`
      : '_no activity_\n',
    '## By failure type',
    table(d.by_failure_type),
    '## By operation',
    table(d.by_operation),
    '## By source',
    table(d.by_source),
    '## By model',
    table(d.by_model),
    '## Agents and judges',
    `Agents: ${spendText(d.spend.agents)} · judges: ${spendText(d.spend.judges)}`,
    '',
    '## Flaky prompts',
    d.flaky.length
      ? d.flaky
          .map((f) => `- ${f.model}, pass rate ${f.pass_rate} over ${f.runs} runs: ${f.prompt.slice(0, 120)}`)
          .join('\n') + '\n'
      : '_none_\n',
    '## Supervisor runs',
    d.runs.length
      ? d.runs
          .map(
            (r) =>
              `- ${r.id} ${r.status} "${r.title}": ${r.nodes.filter((n) => n.state === 'done').length}/${r.nodes.length} done, $${r.spent_usd}`,
          )
          .join('\n') + '\n'
      : '_none_\n',
    '## Top patterns',
    d.top_patterns.length
      ? d.top_patterns
          .map(
            (p) =>
              `- \`${p.id}\` ${p.failure_type} x${p.occurrences} (${p.operation}${p.source_project ? `, from ${p.source_project}` : ''}), strength ${p.strength}, saves ${p.saves}: ${p.prompt_summary}`,
          )
          .join('\n')
      : '_none_',
  ].join('\n');
}

/** JSON safe inside a <script> element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

const NODE_W = 170;
const NODE_H = 34;

/** A run as an inline SVG: one column per level, edges from each dependency, colour by state. */
export function runSvg(r: RunGraph): string {
  const columns = new Map<number, string[]>();
  for (const n of r.nodes) columns.set(n.level, [...(columns.get(n.level) ?? []), n.task]);
  const at = new Map<string, { x: number; y: number }>();
  for (const [level, ids] of columns)
    ids.forEach((id, i) => at.set(id, { x: 8 + level * (NODE_W + 40), y: 8 + i * (NODE_H + 12) }));
  const width = 16 + (Math.max(0, ...columns.keys()) + 1) * (NODE_W + 40);
  const height = 16 + Math.max(1, ...[...columns.values()].map((c) => c.length)) * (NODE_H + 12);
  const edges = r.nodes.flatMap((n) =>
    n.depends_on
      .filter((d) => at.has(d))
      .map((d) => {
        const a = at.get(d)!;
        const b = at.get(n.task)!;
        return `<line x1="${a.x + NODE_W}" y1="${a.y + NODE_H / 2}" x2="${b.x}" y2="${b.y + NODE_H / 2}" class="edge"/>`;
      }),
  );
  const boxes = r.nodes.map((n) => {
    const p = at.get(n.task)!;
    const label = n.title.length > 24 ? `${n.title.slice(0, 23)}…` : n.title;
    return `<g class="node ${escapeHtml(n.state)}" data-task="${escapeHtml(n.task)}"><title>${escapeHtml(`${n.task} ${n.title} (${n.state}${n.worker ? `, ${n.worker}` : ''})`)}</title><rect x="${p.x}" y="${p.y}" width="${NODE_W}" height="${NODE_H}" rx="6"/><text x="${p.x + 8}" y="${p.y + 21}">${escapeHtml(label)}</text></g>`;
  });
  return `<svg role="img" aria-label="${escapeHtml(`Run ${r.id}: ${r.status}`)}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" data-run-nodes="${r.nodes.length}">${edges.join('')}${boxes.join('')}</svg>`;
}

export function renderHtml(d: Dashboard): string {
  const rate = d.guardrail_success_rate === null ? 'n/a' : `${Math.round(d.guardrail_success_rate * 100)}%`;
  const card = (label: string, value: string | number) =>
    `<div class="card"><div class="v">${escapeHtml(String(value))}</div><div class="l">${escapeHtml(label)}</div></div>`;
  const rows = d.top_patterns
    .map(
      (p) =>
        `<tr><td><code>${escapeHtml(p.id)}</code></td><td>${escapeHtml(p.failure_type)}</td><td>${escapeHtml(p.operation)}${p.source_project ? ` <small>(${escapeHtml(p.source_project)})</small>` : ''}</td><td>${p.occurrences}</td><td>${p.saves}</td><td>${p.strength}</td><td>${escapeHtml(p.prompt_summary)}</td></tr>`,
    )
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>task-orchestrator · immune dashboard</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d2430;background:#f6f7f9}
h1{font-size:20px;margin:0 0 4px}.sub{color:#667;margin-bottom:16px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin-bottom:16px}
.card{background:#fff;border-radius:8px;padding:12px 16px;min-width:110px;box-shadow:0 1px 2px #0001}
.card .v{font-size:22px;font-weight:600}.card .l{color:#667;font-size:12px}
.grid{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:16px}
.panel{background:#fff;border-radius:8px;padding:12px;box-shadow:0 1px 2px #0001}
.panel h2{font-size:14px;margin:0 0 8px}.wide{grid-column:1/-1}
canvas{width:100%!important;height:260px!important}
table{border-collapse:collapse;width:100%;font-size:12px}td,th{border-bottom:1px solid #eee;padding:4px 6px;text-align:left}
.runs svg{display:block;max-width:100%;overflow:auto}.edge{stroke:#8c959f;stroke-width:1.5}
.node rect{fill:#eaeef2;stroke:#8c959f}.node text{font-size:12px;fill:#1d2430}
.node.done rect{fill:#dafbe1;stroke:#1a7f37}.node.running rect{fill:#ddf4ff;stroke:#0969da}
.node.blocked rect{fill:#ffebe9;stroke:#cf222e}.node.skipped rect,.node.cancelled rect{fill:#f6f8fa;stroke:#d0d7de}
.healthy{color:#1a7f37}.degraded{color:#9a6700}.unhealthy{color:#cf222e}
</style></head>
<body data-charts="0" data-painted="0" data-trend-failures="-1">
<h1>Immune dashboard</h1>
<div class="sub">Last ${d.days} days · generated ${escapeHtml(d.generated_at)}</div>
<div class="cards">
${card('health', `${d.health.score}/100`).replace('class="v"', `class="v ${d.health.status}"`)}
${card('patterns', d.health.patterns)}${card('imported', d.health.imported)}${card('failures', d.totals.failures)}
${card('checks', d.totals.checks)}${card('blocks', d.totals.blocks)}${card('saves', d.totals.saves)}
${card('guardrail success', rate)}${card('alerts', d.alerts.total)}
</div>
<div class="grid">
<div class="panel wide"><h2>Occurrences per day</h2><canvas id="trend"></canvas></div>
<div class="panel"><h2>By failure type</h2><canvas id="types"></canvas></div>
<div class="panel"><h2>By operation</h2><canvas id="operations"></canvas></div>
<div class="panel"><h2>By model</h2><canvas id="models"></canvas></div>
<div class="panel"><h2>Alerts by kind</h2><canvas id="alerts"></canvas></div>
<div class="panel"><h2>By source</h2><table><thead><tr><th>source</th><th>failures</th></tr></thead><tbody>${
    Object.entries(d.by_source)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `<tr><td>${escapeHtml(k)}</td><td>${v}</td></tr>`)
      .join('') || '<tr><td colspan="2">none yet</td></tr>'
  }</tbody></table></div>
<div class="panel"><h2>Agents and judges</h2><table><thead><tr><th></th><th>calls</th><th>cost (USD)</th><th>avg latency</th></tr></thead><tbody>${(['agents', 'judges'] as const).map((k) => `<tr><td>${k}</td><td>${d.spend[k].calls}</td><td>${d.spend[k].cost_usd}</td><td>${d.spend[k].avg_latency_ms === null ? 'n/a' : `${d.spend[k].avg_latency_ms} ms`}</td></tr>`).join('')}</tbody></table></div>
<div class="panel"><h2>Flaky prompts</h2><table><thead><tr><th>model</th><th>pass rate</th><th>runs</th><th>prompt</th></tr></thead><tbody>${d.flaky.map((f) => `<tr><td>${escapeHtml(f.model)}</td><td>${f.pass_rate}</td><td>${f.runs}</td><td>${escapeHtml(f.prompt.slice(0, 120))}</td></tr>`).join('') || '<tr><td colspan="4">none</td></tr>'}</tbody></table></div>
<div class="panel wide runs"><h2>Supervisor runs</h2>${
    d.runs
      .map(
        (r) =>
          `<h3>${escapeHtml(r.id)} · ${escapeHtml(r.status)} · ${escapeHtml(r.title)} · $${r.spent_usd}</h3>${runSvg(r)}`,
      )
      .join('') || '<p>No runs yet (tasks_run).</p>'
  }<p><small>green done · blue running · grey waiting · red blocked (a decision in the inbox) · pale skipped</small></p></div>
<div class="panel wide"><h2>Top patterns</h2><table><thead><tr><th>id</th><th>type</th><th>operation</th><th>occurrences</th><th>saves</th><th>strength</th><th>prompt</th></tr></thead><tbody>${rows || '<tr><td colspan="7">none yet</td></tr>'}</tbody></table></div>
</div>
<script id="dashboard-data" type="application/json">${scriptJson(d)}</script>
<script>${chartLibrary()}</script>
<script>
(function () {
  var d = JSON.parse(document.getElementById('dashboard-data').textContent);
  var palette = ['#cf222e','#0969da','#1a7f37','#9a6700','#8250df','#bc4c00','#57606a','#1b7c83','#a40e26','#0550ae'];
  Chart.defaults.animation = false;
  Chart.defaults.responsive = false;
  function pairs(o) {
    var e = Object.keys(o).map(function (k) { return [k, o[k]]; }).sort(function (a, b) { return b[1] - a[1]; });
    if (e.length === 0) e = [['none', 0]];
    return { labels: e.map(function (x) { return x[0]; }), values: e.map(function (x) { return x[1]; }) };
  }
  function bar(id, o, color) {
    var p = pairs(o);
    return new Chart(document.getElementById(id), { type: 'bar', data: { labels: p.labels,
      datasets: [{ label: 'failures', data: p.values, backgroundColor: color }] },
      options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } } });
  }
  function size(c) { c.width = c.parentNode.clientWidth - 24; c.height = 260; }
  Array.prototype.forEach.call(document.querySelectorAll('canvas'), size);
  var charts = [];
  charts.push(new Chart(document.getElementById('trend'), { type: 'line', data: {
    labels: d.trend.map(function (r) { return r.date.slice(5); }),
    datasets: [
      { label: 'failures', data: d.trend.map(function (r) { return r.failures; }), borderColor: '#cf222e', backgroundColor: '#cf222e' },
      { label: 'checks', data: d.trend.map(function (r) { return r.checks; }), borderColor: '#0969da', backgroundColor: '#0969da' },
      { label: 'blocks', data: d.trend.map(function (r) { return r.blocks; }), borderColor: '#9a6700', backgroundColor: '#9a6700' },
      { label: 'saves', data: d.trend.map(function (r) { return r.saves; }), borderColor: '#1a7f37', backgroundColor: '#1a7f37' }
    ] }, options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } } }));
  var t = pairs(d.by_failure_type);
  charts.push(new Chart(document.getElementById('types'), { type: 'doughnut', data: { labels: t.labels,
    datasets: [{ data: t.values.map(function (v) { return v || 0.0001; }), backgroundColor: palette }] },
    options: { plugins: { legend: { position: 'right' } } } }));
  charts.push(bar('operations', d.by_operation, '#0969da'));
  charts.push(bar('models', d.by_model, '#8250df'));
  charts.push(bar('alerts', d.alerts.by_kind, '#bc4c00'));
  // Which canvases actually have pixels on them.
  var painted = 0;
  Array.prototype.forEach.call(document.querySelectorAll('canvas'), function (c) {
    var px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    for (var i = 3; i < px.length; i += 4) if (px[i] !== 0) { painted++; return; }
  });
  document.body.setAttribute('data-charts', String(charts.length));
  document.body.setAttribute('data-trend-failures', String(charts[0].data.datasets[0].data.reduce(function (a, b) { return a + b; }, 0)));
  document.body.setAttribute('data-painted', String(painted));
})();
</script>
</body></html>
`;
}
