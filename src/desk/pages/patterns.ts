/**
 * The failure memory on the desk: /patterns (filters by source, failure type, operation, model,
 * dates; search) and a page per pattern (what the memory knows, its escalation, the wordings that
 * joined it, its activity over 30 days, the guardrail agents get), with a person's actions:
 * confirm, false positive, retire, share, split a wording off, edit the guardrail. Every action is
 * audited with the person as the actor.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { evidenceLines, guardrailOf } from '../../immune/guardrails.js';
import { MAX_GUARDRAIL } from '../../immune/immuneSystem.js';
import type { FailurePattern, PatternDay } from '../../immune/patterns.js';
import { hasSession, readForm, refusal } from '../boundary.js';
import type { DeskSecrets } from '../boundary.js';
import type { DeskServices, Html } from '../deps.js';
import { escapeHtml } from '../html.js';
import { page } from '../layout.js';

type PatternServices = Pick<DeskServices, 'immune' | 'audit' | 'redact'>;

const ACTIONS = ['confirm', 'false_positive', 'retire', 'share', 'unshare', 'guardrail', 'split'] as const;
type Action = (typeof ACTIONS)[number];

function summary(p: FailurePattern): string {
  return `<tr data-key="${escapeHtml(p.id)}"><td><a href="/patterns/${encodeURIComponent(p.id)}">${escapeHtml(p.id)}</a></td><td>${escapeHtml(p.source ?? p.operation.split(':')[0]!)}</td><td>${escapeHtml(p.failure_type)}</td><td>${escapeHtml(p.operation)}</td><td>${escapeHtml(p.model ?? '')}</td><td>${p.occurrences}</td><td>${p.strength}</td><td>${escapeHtml(p.last_seen.slice(0, 10))}</td><td>${escapeHtml(p.prompt_summary.slice(0, 140))}</td></tr>`;
}

/** Rows of the pattern list (the newest; the filters narrow a larger memory). */
const LIST_ROWS = 200;

export async function listPage(services: Pick<DeskServices, 'immune'>, url: URL): Promise<string> {
  const q = (name: string) => url.searchParams.get(name)?.trim() || undefined;
  const f = {
    source: q('source'),
    failure_type: q('failure_type'),
    operation: q('operation'),
    model: q('model'),
    from: q('from'),
    to: q('to'),
    search: q('q')?.toLowerCase(),
  };
  const all = (await services.immune.list({ limit: 100_000 })).items;
  const shown = all.filter(
    (p) =>
      (!f.source || (p.source ?? p.operation.split(':')[0]) === f.source) &&
      (!f.failure_type || p.failure_type === f.failure_type) &&
      (!f.operation || p.operation === f.operation) &&
      (!f.model || p.model === f.model) &&
      (!f.from || p.last_seen.slice(0, 10) >= f.from) &&
      (!f.to || p.last_seen.slice(0, 10) <= f.to) &&
      (!f.search ||
        `${p.prompt_summary} ${p.output_summary} ${p.lesson ?? ''}`.toLowerCase().includes(f.search)),
  );
  const options = (values: Array<string | undefined>, chosen: string | undefined) =>
    [...new Set(values.filter(Boolean) as string[])]
      .sort()
      .map((v) => `<option${v === chosen ? ' selected' : ''}>${escapeHtml(v)}</option>`)
      .join('');
  const select = (name: string, label: string, values: Array<string | undefined>) =>
    `<label>${label} <select name="${name}"><option value="">any</option>${options(values, f[name as keyof typeof f])}</select></label>`;
  return page(
    'Failure patterns',
    `<h1>Failure patterns</h1>
<form class="filters" method="get" action="/patterns" role="search">
${select(
  'source',
  'Source',
  all.map((p) => p.source ?? p.operation.split(':')[0]),
)}
${select(
  'failure_type',
  'Failure type',
  all.map((p) => p.failure_type),
)}
${select(
  'operation',
  'Operation',
  all.map((p) => p.operation),
)}
${select(
  'model',
  'Model',
  all.map((p) => p.model),
)}
<label>From <input type="date" name="from" value="${escapeHtml(f.from ?? '')}"></label>
<label>To <input type="date" name="to" value="${escapeHtml(f.to ?? '')}"></label>
<label>Search <input type="search" name="q" value="${escapeHtml(url.searchParams.get('q') ?? '')}"></label>
<button type="submit">Filter</button></form>
<div id="pattern-list" data-live><p>${shown.length} of ${all.length} pattern(s)${shown.length > LIST_ROWS ? `; the newest ${LIST_ROWS} shown: narrow them with the filters or the search` : ''}</p>
<table><caption class="sr">Failure patterns, newest first</caption><thead><tr><th scope="col">id</th><th scope="col">source</th><th scope="col">failure type</th><th scope="col">operation</th><th scope="col">model</th><th scope="col">occurrences</th><th scope="col">strength</th><th scope="col">last seen</th><th scope="col">prompt</th></tr></thead>
<tbody>${shown.slice(0, LIST_ROWS).map(summary).join('') || '<tr><td colspan="9">none</td></tr>'}</tbody></table></div>`,
    '/patterns',
  );
}

/** Days shown in a pattern's activity chart (ending today). */
const CHART_DAYS = 30;

/** A pattern's last 30 days as bars: failures (red), checks it matched (blue), checks it blocked (dark). */
function activitySvg(days: Array<PatternDay & { day: string }>, todayMs: number): string {
  const byDay = new Map(days.map((d) => [d.day, d]));
  const span = Array.from({ length: CHART_DAYS }, (_, i) =>
    new Date(todayMs - (CHART_DAYS - 1 - i) * 86_400_000).toISOString().slice(0, 10),
  );
  const max = Math.max(
    1,
    ...span.map((k) => Math.max(byDay.get(k)?.occurrences ?? 0, byDay.get(k)?.hits ?? 0)),
  );
  const H = 90;
  const bar = (cls: string, x: number, v: number) =>
    v ? `<rect class="${cls}" x="${x}" y="${H - (v / max) * H}" width="5" height="${(v / max) * H}"/>` : '';
  const groups = span.map((k, i) => {
    const d = byDay.get(k);
    const x = i * 18 + 2;
    const label = (CHART_DAYS - 1 - i) % 7 === 0 ? `<text x="${x}" y="${H + 14}">${k.slice(5)}</text>` : '';
    return `${d ? bar('occ', x, d.occurrences) + bar('hit', x + 6, d.hits) + bar('blk', x + 12, d.blocks) : ''}${label}`;
  });
  const totals = span.reduce(
    (t, k) => {
      const d = byDay.get(k);
      return d ? { o: t.o + d.occurrences, h: t.h + d.hits, b: t.b + d.blocks } : t;
    },
    { o: 0, h: 0, b: 0 },
  );
  return `<svg class="bars" role="img" aria-label="${escapeHtml(`Last ${CHART_DAYS} days: ${totals.o} failure(s), matched ${totals.h} check(s), blocked ${totals.b}`)}" width="${CHART_DAYS * 18}" height="${H + 18}" viewBox="0 0 ${CHART_DAYS * 18} ${H + 18}">${groups.join('')}</svg>`;
}

function activityPanel(
  p: FailurePattern,
  days: Array<PatternDay & { day: string }>,
  todayMs: number,
): string {
  const blocks = days.reduce((n, d) => n + d.blocks, 0);
  const rows = days
    .slice(-CHART_DAYS)
    .reverse()
    .map(
      (d) =>
        `<tr data-key="${d.day}"><td>${d.day}</td><td>${d.occurrences}</td><td>${d.hits}</td><td>${d.blocks}</td><td>${d.saves}</td></tr>`,
    )
    .join('');
  return `<h2>Occurrences over time, and the checks and blocks it caused</h2>
<p data-blocks="${blocks}">It failed ${p.occurrences} time(s) (${p.guarded_occurrences ?? 0} although guarded), matched ${p.hits} check(s) and blocked ${blocks}; ${p.saves} guarded prompt(s) then succeeded; ${p.overrides ?? 0} block(s) overridden.</p>
${activitySvg(days, todayMs)}
<p>red failures · blue checks it matched (its guardrails were added) · dark checks it blocked</p>
<table><caption class="sr">Activity per day, newest first</caption><thead><tr><th scope="col">day</th><th scope="col">failures</th><th scope="col">checks matched</th><th scope="col">blocked</th><th scope="col">saves</th></tr></thead>
<tbody>${rows || '<tr><td colspan="5">no activity recorded</td></tr>'}</tbody></table>`;
}

function guardrailPanel(
  p: FailurePattern,
  acting: boolean,
  secrets: DeskSecrets,
  redact: (text: string) => string,
): string {
  const g = guardrailOf(p);
  const current =
    g.kind === 'person'
      ? `<p>This pattern's guardrail (written by ${escapeHtml(p.guardrail_edit?.by ?? 'a person')} on ${escapeHtml(p.guardrail_edit?.at ?? '')}):</p><pre data-guardrail="person">${escapeHtml(g.text)}</pre>`
      : g.kind === 'specific'
        ? `<p>What agents get now (generated from this pattern's latest failure${p.lesson ? ' and its lesson' : ''}${p.guardrail_edit ? `; restored by ${escapeHtml(p.guardrail_edit.by)} on ${escapeHtml(p.guardrail_edit.at)}` : ''}): the instruction, then the evidence, quoted as data.</p><pre data-guardrail="specific">${escapeHtml(g.text)}</pre><pre data-evidence>${escapeHtml(redact(evidenceLines(g.evidence ? [g.evidence] : [])))}</pre>`
        : `<p>The default for ${escapeHtml(p.failure_type)} failures (this pattern has no graders' reasons or lesson yet)${p.guardrail_edit ? ` (restored by ${escapeHtml(p.guardrail_edit.by)} on ${escapeHtml(p.guardrail_edit.at)})` : ''}:</p><pre data-guardrail="default">${escapeHtml(g.text)}</pre>`;
  const form = acting
    ? `<form method="post" action="/patterns/${encodeURIComponent(p.id)}">
<input type="hidden" name="csrf" value="${escapeHtml(secrets.csrf)}">
<label for="guardrail-text">Guardrail text added to prompts that match this pattern, in place of the generated one (empty restores it; at most ${MAX_GUARDRAIL} characters)</label><br>
<textarea id="guardrail-text" name="guardrail" rows="3" maxlength="${MAX_GUARDRAIL}">${escapeHtml(p.guardrail ?? '')}</textarea><br>
<button type="submit" name="action" value="guardrail">Save guardrail</button></form>`
    : '';
  return `<h2>Guardrail</h2>${current}${form}`;
}

/** The wordings that joined a pattern (its merges), each with a person's split. */
function wordingsPanel(
  p: FailurePattern,
  acting: boolean,
  secrets: DeskSecrets,
  redact: (text: string) => string,
): string {
  const variants = p.variants ?? [];
  const rows = variants
    .map(
      (v) =>
        `<tr data-key="${escapeHtml(v.doc)}"><td>${escapeHtml(v.at.slice(0, 16))}</td><td>${v.count}</td><td>${v.similarity} (${escapeHtml(v.stage)})</td><td><pre>${escapeHtml(redact(v.text.slice(0, 400)))}</pre></td><td>${
          acting
            ? `<form method="post" action="/patterns/${encodeURIComponent(p.id)}"><input type="hidden" name="csrf" value="${escapeHtml(secrets.csrf)}"><input type="hidden" name="doc" value="${escapeHtml(v.doc)}"><button type="submit" name="action" value="split" aria-label="Split this wording off into a pattern of its own">Split off</button></form>`
            : ''
        }</td></tr>`,
    )
    .join('');
  const streak = p.streak;
  return `<h2>Wordings and escalation</h2>
<p data-escalation>${
    streak
      ? `Since ${escapeHtml(streak.since.slice(0, 16))}: ${streak.failures} failure(s), ${streak.guarded} despite its guardrail. ${streak.guarded >= 1 ? 'Escalated: it blocks its own problem until a guarded attempt passes or a caller overrides it.' : 'It guards (adds its guardrail); a failure despite the guardrail escalates it.'}`
      : ''
  }${p.split_from ? ` Split off <a href="/patterns/${encodeURIComponent(p.split_from.id)}">${escapeHtml(p.split_from.id)}</a> by ${escapeHtml(p.split_from.by)}.` : ''}</p>
<p>${variants.length} other wording(s) failed the same way and joined it${variants.length ? '; split one off if it is a different problem' : ''}.</p>
${variants.length ? `<table><caption class="sr">Wordings merged into this pattern</caption><thead><tr><th scope="col">joined</th><th scope="col">failures</th><th scope="col">similarity (stage)</th><th scope="col">wording (scrubbed)</th><th scope="col"></th></tr></thead><tbody>${rows}</tbody></table>` : ''}`;
}

async function patternPage(
  services: PatternServices,
  id: string,
  acting: boolean,
  secrets: DeskSecrets,
  done?: string,
): Promise<string> {
  const { pattern: p, days } = await services.immune.withTimeline(id);
  const scores = Object.entries(p.grader_scores)
    .map(
      ([k, v]) =>
        `<tr><td>${escapeHtml(k)}</td><td>${v}</td><td>${escapeHtml(services.redact(p.grader_reasons?.[k] ?? ''))}</td></tr>`,
    )
    .join('');
  const button = (action: Action, label: string) =>
    `<button type="submit" name="action" value="${action}">${label}</button>`;
  const actions = acting
    ? `<form method="post" action="/patterns/${encodeURIComponent(p.id)}">
<input type="hidden" name="csrf" value="${escapeHtml(secrets.csrf)}">
${button('confirm', 'Confirm')}${button('false_positive', 'Mark false positive')}${p.shared ? button('unshare', 'Stop sharing') : button('share', 'Share to the hub')}
<label>Reason (to retire) <input name="reason" maxlength="500"></label>${button('retire', 'Retire')}
</form>`
    : '<p>Read-only: actions need the desk session, which only the terminal that started <code>task-orchestrator dashboard</code> receives.</p>';
  return page(
    p.id,
    `<h1>Pattern ${escapeHtml(p.id)}</h1>${done ? `<p role="status">${escapeHtml(done)}</p>` : ''}
<div class="panel" id="pattern-stats" data-live><table><caption class="sr">What the memory knows about this pattern</caption>
<tr><th scope="row">failure type</th><td>${escapeHtml(p.failure_type)}</td></tr>
<tr><th scope="row">source / operation</th><td>${escapeHtml(p.source ?? '')} ${escapeHtml(p.operation)}</td></tr>
<tr><th scope="row">model</th><td>${escapeHtml(p.model ?? 'n/a')}</td></tr>
<tr><th scope="row">strength</th><td data-strength="${p.strength}">${p.strength}</td></tr>
<tr><th scope="row">occurrences / hits / saves / false positives</th><td>${p.occurrences} / ${p.hits} / ${p.saves} / ${p.false_positives}</td></tr>
<tr><th scope="row">first / last seen</th><td>${escapeHtml(p.first_seen)} / ${escapeHtml(p.last_seen)}</td></tr>
<tr><th scope="row">shared</th><td>${p.shared ? 'yes' : 'no'}</td></tr>
<tr><th scope="row">lineage</th><td>${p.origin ? `imported from ${escapeHtml(p.origin.project)} (${escapeHtml(p.origin.pattern_id)}) on ${escapeHtml(p.origin.imported_at)}` : 'this project'}</td></tr>
${p.last_override ? `<tr><th scope="row">last override</th><td>${escapeHtml(p.last_override.by)}: ${escapeHtml(p.last_override.reason)}</td></tr>` : ''}
</table></div>
<div class="panel"><h2>Example prompt (scrubbed)</h2><pre>${escapeHtml(services.redact(p.prompt_summary))}</pre>
<h2>Output (scrubbed)</h2><pre>${escapeHtml(services.redact(p.output_summary))}</pre>
${p.lesson ? `<h2>Lesson learned</h2><pre>${escapeHtml(services.redact(p.lesson))}</pre>` : ''}
<h2>Graders</h2><table><caption class="sr">Grader scores and the reasons of those that failed it</caption><thead><tr><th scope="col">grader</th><th scope="col">score</th><th scope="col">reason it failed</th></tr></thead><tbody>${scores || '<tr><td colspan="3">none</td></tr>'}</tbody></table></div>
<div class="panel" id="pattern-wordings" data-live>${wordingsPanel(p, acting, secrets, services.redact)}</div>
<div class="panel" id="pattern-activity" data-live>${activityPanel(p, days, Date.now())}</div>
<div class="panel">${guardrailPanel(p, acting, secrets, services.redact)}</div>
<div class="panel"><h2>Actions</h2>${actions}</div>`,
    '/patterns',
  );
}

/** GET or POST /patterns/<id>; returns false for other paths. */
export async function servePattern(
  services: PatternServices,
  secrets: DeskSecrets,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  html: Html,
): Promise<boolean> {
  const m = /^\/patterns\/([A-Za-z0-9_:.-]{1,80})$/.exec(url.pathname);
  if (!m) return false;
  const id = m[1]!;
  if (req.method === 'GET') {
    html(200, await patternPage(services, id, hasSession(req, secrets), secrets));
    return true;
  }
  if (req.method !== 'POST') {
    res.writeHead(405, { allow: 'GET, POST' }).end();
    return true;
  }
  const form = await readForm(req);
  const why = refusal(req, form, secrets);
  if (why) {
    res.writeHead(403, { 'content-type': 'text/plain' }).end(`refused: ${why}\n`);
    return true;
  }
  const action = form.get('action') as Action | null;
  if (!action || !ACTIONS.includes(action)) {
    res.writeHead(400, { 'content-type': 'text/plain' }).end(`action must be one of ${ACTIONS.join(', ')}\n`);
    return true;
  }
  const actor = 'human (review desk)';
  let done: string;
  if (action === 'confirm' || action === 'false_positive') {
    const p = await services.immune.feedback(id, action === 'confirm' ? 'confirmed' : 'false_positive');
    done =
      action === 'confirm'
        ? `Confirmed: strength ${p.strength}`
        : `Marked a false positive: strength ${p.strength}`;
  } else if (action === 'retire') {
    const reason = form.get('reason')?.trim();
    if (!reason) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('retiring needs a reason\n');
      return true;
    }
    await services.immune.retire(id, reason.slice(0, 500), actor);
    done = `Retired: ${reason.slice(0, 500)}`;
  } else if (action === 'split') {
    const doc = form.get('doc') ?? '';
    const q = await services.immune.split(id, doc, actor);
    done = `Split off as pattern ${q.id} (${q.occurrences} failure(s))`;
  } else if (action === 'guardrail') {
    // A person's words go into every prompt that matches: secrets are scrubbed before they are kept.
    const text = services.redact(form.get('guardrail') ?? '');
    const p = await services.immune.setGuardrail(id, text, actor);
    done = p.guardrail
      ? `Guardrail saved: ${p.guardrail}`
      : `Guardrail restored to the one generated from its failures (or the ${p.failure_type} default)`;
  } else {
    await services.immune.share([id], action === 'share');
    done = action === 'share' ? 'Shared to the federation hub on the next push' : 'No longer shared';
  }
  await services.audit.append({ entry_type: 'pattern', title: `${action} ${id}`, content: done, actor });
  if (action === 'retire') {
    res.writeHead(303, { location: '/patterns' }).end();
    return true;
  }
  html(200, await patternPage(services, id, true, secrets, done));
  return true;
}
