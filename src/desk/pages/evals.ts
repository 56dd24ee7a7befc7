/**
 * Evaluation runs on the desk: /evals lists the recent runs; /evals/<run> shows its summary per
 * model (pass rate and 95% interval), the case x model matrix whose cells link to their trials, and
 * what flipped against the suite's baseline (or ?vs=<run>); /trials/<id> shows one graded answer
 * (scrubbed, escaped) with its assertions or graders. Read-only pages.
 */
import { diffRuns, reportOf } from '../../evaluation/suites/report.js';
import type { MatrixCell } from '../../evaluation/suites/report.js';
import type { DeskServices, Html } from '../deps.js';
import { escapeHtml } from '../html.js';
import { page } from '../layout.js';

type EvalServices = Pick<DeskServices, 'evals' | 'trials' | 'redact'>;

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** GET /evals. */
async function listPage(services: EvalServices): Promise<string> {
  const runs = (await services.evals.list()).slice(0, 50);
  const rows = runs
    .map(
      (r) =>
        `<tr data-key="${escapeHtml(r.id)}"><td><a href="/evals/${encodeURIComponent(r.id)}">${escapeHtml(r.id)}</a></td><td>${escapeHtml(r.suite)}</td><td>${escapeHtml(r.status)}</td><td>${escapeHtml(r.targets.join(', '))}</td><td>${r.cases}</td><td>${escapeHtml(r.started_at.slice(0, 16))}</td></tr>`,
    )
    .join('');
  return page(
    'Evaluation runs',
    `<h1>Evaluation runs</h1><div id="eval-list" data-live><table><caption class="sr">Evaluation runs, newest first</caption><thead><tr><th scope="col">run</th><th scope="col">suite</th><th scope="col">status</th><th scope="col">models</th><th scope="col">cases</th><th scope="col">started</th></tr></thead><tbody>${rows || '<tr><td colspan="6">No runs yet (eval_run, or task-orchestrator eval run).</td></tr>'}</tbody></table></div>`,
    '/evals',
  );
}

function cellHtml(m: MatrixCell | undefined): string {
  if (!m) return '<td></td>';
  const label =
    m.errors + m.ungraded > 0 && m.passed_runs + m.errors + m.ungraded === m.runs
      ? 'ERROR'
      : m.pass
        ? 'PASS'
        : 'FAIL';
  const runs = m.runs > 1 ? ` ${m.passed_runs}/${m.runs}` : '';
  const links = m.trial_ids
    .map(
      (t, i) =>
        `<a href="/trials/${encodeURIComponent(t)}" aria-label="trial ${i + 1} of ${escapeHtml(m.case_id)} on ${escapeHtml(m.target)}">${m.trial_ids.length > 1 ? i + 1 : 'trial'}</a>`,
    )
    .join(' ');
  return `<td class="${label.toLowerCase()}" data-cell="${escapeHtml(`${m.case_id}@${m.target}`)}"${m.reason ? ` title="${escapeHtml(m.reason.slice(0, 200))}"` : ''}>${label}${runs} ${links}</td>`;
}

/** GET /evals/<run>. */
async function runPage(services: EvalServices, id: string, vs: string | undefined): Promise<string> {
  const run = await services.evals.get(id);
  const report = reportOf(run, await services.evals.cellsOf(id));
  const baseline = vs ?? (await services.evals.baselineOf(run.suite));
  const diff =
    baseline && baseline !== id
      ? await services.evals
          .get(baseline)
          .then(async (b) => diffRuns(reportOf(b, await services.evals.cellsOf(b.id)), report))
          .catch(() => undefined)
      : undefined;
  const byCase = new Map<string, MatrixCell[]>();
  for (const m of report.matrix) (byCase.get(m.case_id) ?? byCase.set(m.case_id, []).get(m.case_id)!).push(m);
  const summary = report.summary
    .map(
      (s) =>
        `<tr><th scope="row">${escapeHtml(s.target)}</th><td>${s.passed}</td><td>${s.failed}</td><td>${s.errors}</td><td>${pct(s.pass_rate)} (${pct(s.ci95[0])}–${pct(s.ci95[1])})</td><td>$${s.cost_usd.toFixed(4)}</td><td>${s.latency_p50_ms} ms</td></tr>`,
    )
    .join('');
  const matrix = [...byCase]
    .map(
      ([caseId, row]) =>
        `<tr><th scope="row">${escapeHtml(caseId)}</th>${run.targets.map((t) => cellHtml(row.find((m) => m.target === t))).join('')}</tr>`,
    )
    .join('');
  const failing = report.matrix.filter((m) => !m.pass && m.reason);
  return page(
    `Evaluation ${run.id}`,
    `<h1>Evaluation run ${escapeHtml(run.id)}</h1>
<div class="panel" id="eval-summary" data-live><p>Suite <b>${escapeHtml(run.suite)}</b> (${escapeHtml(run.file)}), ${escapeHtml(run.status)}${run.stop_reason ? `: ${escapeHtml(run.stop_reason)}` : ''}; ${report.done_cells}/${run.cells} cells; pass rate ${pct(report.pass_rate)} (95% CI ${pct(report.ci95[0])}–${pct(report.ci95[1])})${run.judge_note ? `; ${escapeHtml(run.judge_note)}` : ''}.</p>
<table><caption class="sr">Summary per model</caption><thead><tr><th scope="col">model</th><th scope="col">passed</th><th scope="col">failed</th><th scope="col">errors</th><th scope="col">pass rate (95% CI)</th><th scope="col">cost</th><th scope="col">latency p50</th></tr></thead><tbody>${summary}</tbody></table></div>
<div class="panel"><h2>Cases by model</h2><style>td.pass{background:#dafbe1}td.fail{background:#ffebe9}td.error{background:#fff8c5}</style>
<table id="eval-matrix"><caption class="sr">Each case on each model; a cell links to its trials</caption><thead><tr><th scope="col">case</th>${run.targets.map((t) => `<th scope="col">${escapeHtml(t)}</th>`).join('')}</tr></thead><tbody>${matrix || `<tr><td colspan="${run.targets.length + 1}">no results yet</td></tr>`}</tbody></table></div>
${
  diff
    ? `<div class="panel" id="eval-diff"><h2>Against ${escapeHtml(diff.before)}${vs ? '' : ' (the baseline)'}</h2><p>${escapeHtml(diff.verdict)}; pass rate ${pct(diff.pass_rate_before)} → ${pct(diff.pass_rate_after)}.</p>${
        diff.flips.length
          ? `<table><caption class="sr">Cells that flipped, newly failing first</caption><thead><tr><th scope="col">case</th><th scope="col">model</th><th scope="col">before</th><th scope="col">after</th></tr></thead><tbody>${diff.flips
              .map(
                (f) =>
                  `<tr data-flip="${escapeHtml(`${f.case_id}@${f.target}`)}"><td>${escapeHtml(f.case_id)}</td><td>${escapeHtml(f.target)}</td><td>${f.before}</td><td>${f.after}</td></tr>`,
              )
              .join('')}</tbody></table>`
          : ''
      }</div>`
    : ''
}
${
  failing.length
    ? `<div class="panel"><h2>Why cases failed (model output, scrubbed)</h2><table><thead><tr><th scope="col">case</th><th scope="col">model</th><th scope="col">reason</th></tr></thead><tbody>${failing
        .slice(0, 200)
        .map(
          (m) =>
            `<tr><td>${escapeHtml(m.case_id)}</td><td>${escapeHtml(m.target)}</td><td>${escapeHtml(services.redact(m.reason!).slice(0, 300))}</td></tr>`,
        )
        .join('')}</tbody></table></div>`
    : ''
}`,
    '/evals',
  );
}

/** GET /trials/<id>. */
async function trialPage(services: EvalServices, id: string): Promise<string | undefined> {
  const t = await services.trials.get(id);
  if (!t) return undefined;
  const checks = (
    t.assertions ?? t.graders.map((g) => ({ type: g.grader, pass: g.pass, score: g.score, reason: g.reason }))
  )
    .map(
      (a) =>
        `<tr><td>${escapeHtml(a.type)}</td><td>${a.pass ? 'pass' : 'fail'}</td><td>${a.score}</td><td>${escapeHtml(services.redact(a.reason).slice(0, 500))}</td></tr>`,
    )
    .join('');
  return page(
    `Trial ${t.id}`,
    `<h1>Trial ${escapeHtml(t.id)}</h1>
<div class="panel"><p>${t.pass ? 'PASS' : 'FAIL'} · score ${t.score} · ${escapeHtml(t.provider ?? '')}/${escapeHtml(t.model ?? '')} · ${escapeHtml(t.source ?? t.operation)} · ${escapeHtml(t.created_at)}${t.eval ? ` · <a href="/evals/${encodeURIComponent(t.eval.run_id)}">run ${escapeHtml(t.eval.run_id)}</a>, case ${escapeHtml(t.eval.case_id)}` : ''}</p>
<h2>Prompt (scrubbed)</h2><pre id="trial-prompt">${escapeHtml(services.redact(t.prompt))}</pre>
<h2>Answer (scrubbed)</h2><pre id="trial-output">${escapeHtml(services.redact(t.output))}</pre>
<h2>Checks</h2><table><caption class="sr">Assertions or graders and their verdicts</caption><thead><tr><th scope="col">check</th><th scope="col">verdict</th><th scope="col">score</th><th scope="col">reason</th></tr></thead><tbody>${checks || '<tr><td colspan="4">none</td></tr>'}</tbody></table></div>`,
    '/evals',
  );
}

/** GET /evals, /evals/<run>, /trials/<id>; false for other paths. */
export async function serveEvals(services: EvalServices, url: URL, html: Html): Promise<boolean> {
  if (url.pathname === '/evals') {
    html(200, await listPage(services));
    return true;
  }
  const run = /^\/evals\/([A-Za-z0-9_-]{1,80})$/.exec(url.pathname);
  if (run) {
    const vs = url.searchParams.get('vs') ?? undefined;
    html(200, await runPage(services, run[1]!, vs && /^[A-Za-z0-9_-]{1,80}$/.test(vs) ? vs : undefined));
    return true;
  }
  const trial = /^\/trials\/([A-Za-z0-9_-]{1,80})$/.exec(url.pathname);
  if (trial) {
    const body = await trialPage(services, trial[1]!);
    html(body ? 200 : 404, body ?? page('Not found', `<h1>No trial ${escapeHtml(trial[1]!)}</h1>`));
    return true;
  }
  return false;
}
