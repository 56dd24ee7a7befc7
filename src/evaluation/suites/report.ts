/**
 * What a suite run says: the matrix (cases x targets: pass over its repeats, score, cost, latency,
 * the first failing assertion's reason), a summary per target with a 95% confidence interval of the
 * pass rate (Wilson), the diff of two runs (cells that flipped, newly failing first) with an exact
 * McNemar test on the paired flips, so a 1-case flip in 20 is reported with how sure it is; and
 * JUnit XML for CI.
 */
import type { EvalCell, EvalRun } from './runner.js';

export interface MatrixCell {
  case_id: string;
  target: string;
  /** Every repeat passed (pass^k). */
  pass: boolean;
  runs: number;
  passed_runs: number;
  errors: number;
  ungraded: number;
  score: number;
  cost_usd: number;
  latency_ms: number;
  /** The first failing assertion's reason (or the error). */
  reason?: string;
  trial_ids: string[];
}

export interface TargetSummary {
  target: string;
  cases: number;
  passed: number;
  failed: number;
  /** Cases with a call error or an ungraded assertion (neither passed nor failed). */
  errors: number;
  pass_rate: number;
  /** 95% Wilson interval of the pass rate over the graded cases. */
  ci95: [number, number];
  cost_usd: number;
  latency_p50_ms: number;
}

export interface RunReport {
  run: EvalRun;
  done_cells: number;
  summary: TargetSummary[];
  matrix: MatrixCell[];
  /** Pass rate over every graded (case, target), and its interval. */
  pass_rate: number;
  ci95: [number, number];
}

/** 95% Wilson score interval for k successes in n. */
export function wilson(k: number, n: number): [number, number] {
  if (n === 0) return [0, 1];
  const z = 1.959964;
  const p = k / n;
  const d = 1 + (z * z) / n;
  const centre = p + (z * z) / (2 * n);
  const margin = z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n));
  const round = (x: number) => Number(Math.min(1, Math.max(0, x)).toFixed(4));
  return [round((centre - margin) / d), round((centre + margin) / d)];
}

/** Two-sided exact McNemar p-value for b and c discordant pairs (binomial, p = 0.5). */
export function mcnemar(b: number, c: number): number {
  const n = b + c;
  if (n === 0) return 1;
  const k = Math.min(b, c);
  let logC = 0;
  let tail = 0;
  for (let i = 0; i <= k; i++) {
    if (i > 0) logC += Math.log(n - i + 1) - Math.log(i);
    tail += Math.exp(logC - n * Math.LN2);
  }
  return Number(Math.min(1, 2 * tail).toFixed(4));
}

const median = (xs: number[]) => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function matrixOf(
  cells: readonly EvalCell[],
  caseOrder: readonly string[],
  targets: readonly string[],
): MatrixCell[] {
  const groups = new Map<string, EvalCell[]>();
  for (const c of cells) {
    const key = `${c.case_id}\u0000${c.target}`;
    (groups.get(key) ?? groups.set(key, []).get(key)!).push(c);
  }
  const order = [...new Set([...caseOrder, ...cells.map((c) => c.case_id)])];
  const out: MatrixCell[] = [];
  for (const caseId of order)
    for (const target of targets) {
      const g = groups.get(`${caseId}\u0000${target}`);
      if (!g) continue;
      const errors = g.filter((c) => c.error).length;
      const ungraded = g.filter((c) => c.ungraded).length;
      const passed = g.filter((c) => c.pass).length;
      const failing = g.find((c) => !c.pass);
      const reason = failing
        ? (failing.error ??
          failing.assertions.find((a) => !a.pass && !a.ungraded)?.reason ??
          failing.assertions.find((a) => a.ungraded)?.reason)
        : undefined;
      out.push({
        case_id: caseId,
        target,
        pass: passed === g.length,
        runs: g.length,
        passed_runs: passed,
        errors,
        ungraded,
        score: Number((g.reduce((n, c) => n + c.score, 0) / g.length).toFixed(4)),
        cost_usd: Number(g.reduce((n, c) => n + c.cost_usd + c.judge_cost_usd, 0).toFixed(6)),
        latency_ms: Math.round(median(g.map((c) => c.latency_ms))),
        ...(reason ? { reason } : {}),
        trial_ids: g.flatMap((c) => (c.trial_id ? [c.trial_id] : [])),
      });
    }
  return out;
}

/** A matrix cell is an error (not a verdict) when one of its runs errored or went ungraded and none failed outright. */
function isError(m: MatrixCell): boolean {
  return (m.errors > 0 || m.ungraded > 0) && m.passed_runs + m.errors + m.ungraded === m.runs;
}

export function reportOf(
  run: EvalRun,
  cells: readonly EvalCell[],
  caseOrder: readonly string[] = [],
): RunReport {
  const matrix = matrixOf(cells, caseOrder, run.targets);
  const summary = run.targets.map((target): TargetSummary => {
    const rows = matrix.filter((m) => m.target === target);
    const errors = rows.filter(isError).length;
    const graded = rows.filter((m) => !isError(m));
    const passed = graded.filter((m) => m.pass).length;
    return {
      target,
      cases: rows.length,
      passed,
      failed: graded.length - passed,
      errors,
      pass_rate: graded.length ? Number((passed / graded.length).toFixed(4)) : 0,
      ci95: wilson(passed, graded.length),
      cost_usd: Number(rows.reduce((n, m) => n + m.cost_usd, 0).toFixed(6)),
      latency_p50_ms: Math.round(median(rows.map((m) => m.latency_ms))),
    };
  });
  const graded = matrix.filter((m) => !isError(m));
  const passed = graded.filter((m) => m.pass).length;
  return {
    run,
    done_cells: cells.length,
    summary,
    matrix,
    pass_rate: graded.length ? Number((passed / graded.length).toFixed(4)) : 0,
    ci95: wilson(passed, graded.length),
  };
}

export interface Flip {
  case_id: string;
  target: string;
  before: 'pass' | 'fail' | 'error';
  after: 'pass' | 'fail' | 'error';
  reason?: string;
  trial_ids: string[];
}

export interface RunDiff {
  before: string;
  after: string;
  /** Newly failing first, then newly passing, then errors either way. */
  flips: Flip[];
  newly_failing: number;
  newly_passing: number;
  compared: number;
  pass_rate_before: number;
  pass_rate_after: number;
  /** Exact McNemar p-value of the paired flips (1 = no evidence of a change). */
  p_value: number;
  /** More cases newly fail than newly pass, and p < 0.05. */
  regression: boolean;
  verdict: string;
}

const state = (m: MatrixCell): Flip['before'] => (isError(m) ? 'error' : m.pass ? 'pass' : 'fail');

/** The cells two runs share (same case and target), what flipped, and whether it is a regression. */
export function diffRuns(before: RunReport, after: RunReport): RunDiff {
  const earlier = new Map(before.matrix.map((m) => [`${m.case_id}\u0000${m.target}`, m]));
  const flips: Flip[] = [];
  let compared = 0;
  let bothGraded = 0;
  let passedBefore = 0;
  let passedAfter = 0;
  for (const m of after.matrix) {
    const e = earlier.get(`${m.case_id}\u0000${m.target}`);
    if (!e) continue;
    compared++;
    const [s0, s1] = [state(e), state(m)];
    if (s0 !== 'error' && s1 !== 'error') {
      bothGraded++;
      if (s0 === 'pass') passedBefore++;
      if (s1 === 'pass') passedAfter++;
    }
    if (s0 !== s1)
      flips.push({
        case_id: m.case_id,
        target: m.target,
        before: s0,
        after: s1,
        ...(s1 === 'fail' || s1 === 'error'
          ? m.reason
            ? { reason: m.reason }
            : {}
          : e.reason
            ? { reason: e.reason }
            : {}),
        trial_ids: m.trial_ids,
      });
  }
  const rank = (f: Flip) =>
    f.before === 'pass' && f.after === 'fail' ? 0 : f.before === 'fail' && f.after === 'pass' ? 1 : 2;
  flips.sort((a, b) => rank(a) - rank(b));
  const newlyFailing = flips.filter((f) => f.before === 'pass' && f.after === 'fail').length;
  const newlyPassing = flips.filter((f) => f.before === 'fail' && f.after === 'pass').length;
  const p = mcnemar(newlyFailing, newlyPassing);
  const regression = newlyFailing > newlyPassing && p < 0.05;
  const rate = (k: number) => (bothGraded ? Number((k / bothGraded).toFixed(4)) : 0);
  return {
    before: before.run.id,
    after: after.run.id,
    flips,
    newly_failing: newlyFailing,
    newly_passing: newlyPassing,
    compared,
    pass_rate_before: rate(passedBefore),
    pass_rate_after: rate(passedAfter),
    p_value: p,
    regression,
    verdict:
      newlyFailing === 0 && newlyPassing === 0
        ? 'no case changed'
        : regression
          ? `regression: ${newlyFailing} newly failing, ${newlyPassing} newly passing (McNemar p = ${p})`
          : newlyFailing > newlyPassing
            ? `${newlyFailing} newly failing, ${newlyPassing} newly passing: not significant (McNemar p = ${p}; it may be chance)`
            : `${newlyPassing} newly passing, ${newlyFailing} newly failing (McNemar p = ${p})`,
  };
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const cellText = (m: MatrixCell | undefined) =>
  !m
    ? ''
    : isError(m)
      ? 'ERROR'
      : m.runs > 1
        ? `${m.pass ? 'PASS' : 'FAIL'} ${m.passed_runs}/${m.runs}`
        : m.pass
          ? 'PASS'
          : 'FAIL';

/** The report as markdown: summary, then the matrix (failing reasons quoted as data by the caller). */
export function reportMarkdown(r: RunReport): string {
  const lines = [
    `Run ${r.run.id} of suite ${r.run.suite} (${r.run.status}${r.run.stop_reason ? `: ${r.run.stop_reason}` : ''}): ${r.done_cells}/${r.run.cells} cells; pass rate ${pct(r.pass_rate)} (95% CI ${pct(r.ci95[0])}-${pct(r.ci95[1])})${r.run.judge_note ? `; ${r.run.judge_note}` : ''}.`,
    '',
    '| target | passed | failed | errors | pass rate (95% CI) | cost | latency p50 |',
    '| --- | ---: | ---: | ---: | --- | ---: | ---: |',
    ...r.summary.map(
      (s) =>
        `| ${s.target} | ${s.passed} | ${s.failed} | ${s.errors} | ${pct(s.pass_rate)} (${pct(s.ci95[0])}-${pct(s.ci95[1])}) | $${s.cost_usd.toFixed(4)} | ${s.latency_p50_ms} ms |`,
    ),
    '',
    `| case | ${r.run.targets.join(' | ')} |`,
    `| --- | ${r.run.targets.map(() => '---').join(' | ')} |`,
  ];
  const byCase = new Map<string, MatrixCell[]>();
  for (const m of r.matrix) (byCase.get(m.case_id) ?? byCase.set(m.case_id, []).get(m.case_id)!).push(m);
  for (const [caseId, row] of byCase)
    lines.push(
      `| ${caseId} | ${r.run.targets.map((t) => cellText(row.find((m) => m.target === t))).join(' | ')} |`,
    );
  return lines.join('\n');
}

export function diffMarkdown(d: RunDiff): string {
  return [
    `${d.before} -> ${d.after}: ${d.verdict}; ${d.compared} cells compared, pass rate ${pct(d.pass_rate_before)} -> ${pct(d.pass_rate_after)}.`,
    ...(d.flips.length
      ? [
          '',
          '| case | target | before | after |',
          '| --- | --- | --- | --- |',
          ...d.flips.map((f) => `| ${f.case_id} | ${f.target} | ${f.before} | ${f.after} |`),
        ]
      : []),
  ].join('\n');
}

/** Text for an XML attribute or body: characters XML 1.0 cannot hold are dropped, the rest escaped. */
const xml = (s: string) =>
  [...s]
    .filter((ch) => {
      const c = ch.codePointAt(0)!;
      return c === 9 || c === 10 || c === 13 || (c >= 32 && c !== 0xfffe && c !== 0xffff);
    })
    .join('')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');

/** JUnit XML: a testsuite per target, a testcase per case (failure: its reason; error: the call's). */
export function junitXml(r: RunReport): string {
  const suites = r.run.targets.map((target) => {
    const rows = r.matrix.filter((m) => m.target === target);
    const failures = rows.filter((m) => !m.pass && !isError(m)).length;
    const errors = rows.filter(isError).length;
    const time = rows.reduce((n, m) => n + m.latency_ms, 0) / 1000;
    const cases = rows.map((m) => {
      const body = isError(m)
        ? `<error message="${xml((m.reason ?? 'error').slice(0, 500))}"/>`
        : m.pass
          ? ''
          : `<failure message="${xml((m.reason ?? 'failed').slice(0, 500))}">${xml(`${m.passed_runs}/${m.runs} runs passed; trials ${m.trial_ids.join(', ')}`)}</failure>`;
      return `    <testcase classname="${xml(`${r.run.suite}.${target}`)}" name="${xml(m.case_id)}" time="${(m.latency_ms / 1000).toFixed(3)}">${body}</testcase>`;
    });
    return [
      `  <testsuite name="${xml(`${r.run.suite} on ${target}`)}" tests="${rows.length}" failures="${failures}" errors="${errors}" time="${time.toFixed(3)}">`,
      ...cases,
      '  </testsuite>',
    ].join('\n');
  });
  const total = r.matrix.length;
  const failures = r.matrix.filter((m) => !m.pass && !isError(m)).length;
  const errors = r.matrix.filter(isError).length;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${xml(r.run.suite)}" tests="${total}" failures="${failures}" errors="${errors}">`,
    ...suites,
    '</testsuites>',
    '',
  ].join('\n');
}
