/**
 * The approval inbox on the desk: pending and decided items; a person approves (it runs exactly
 * once: a second approval is refused) or rejects with a reason. Audited with the person as actor.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { approveAndRun } from '../../safety/inbox.js';
import type { InboxItem } from '../../safety/inbox.js';
import { hasSession, readForm, refusal } from '../boundary.js';
import type { DeskSecrets } from '../boundary.js';
import type { DeskServices, Html } from '../deps.js';
import { escapeHtml } from '../html.js';
import { page } from '../layout.js';

type InboxServices = Pick<DeskServices, 'inbox' | 'commands' | 'audit'>;

function inboxRow(i: InboxItem, acting: boolean, secrets: DeskSecrets): string {
  const form =
    acting && i.status === 'pending'
      ? `<form method="post" action="/inbox/${encodeURIComponent(i.id)}">
<input type="hidden" name="csrf" value="${escapeHtml(secrets.csrf)}">
<button type="submit" name="action" value="approve">Approve ${escapeHtml(i.id)}</button>
<label>Reason <input name="reason" maxlength="500"></label>
<button type="submit" name="action" value="reject">Reject ${escapeHtml(i.id)}</button></form>`
      : '';
  return `<tr data-key="${escapeHtml(`${i.id}:${i.status}`)}" data-item="${escapeHtml(i.id)}" data-status="${escapeHtml(i.status)}"><td>${escapeHtml(i.id)}</td><td>${escapeHtml(i.status)}</td><td>${escapeHtml(i.summary)}</td><td>${escapeHtml(i.reasons.join('; '))}</td><td>${escapeHtml(i.requested_by)}</td><td>${escapeHtml(i.expires_at)}</td><td>${i.outcome ? escapeHtml(`${i.outcome.status}: ${i.outcome.message}`.slice(0, 300)) : ''}${form}</td></tr>`;
}

async function inboxPage(
  services: InboxServices,
  acting: boolean,
  secrets: DeskSecrets,
  done?: string,
): Promise<string> {
  const items = (await services.inbox.list({ limit: 100 })).items;
  return page(
    'Approval inbox',
    `<h1>Approval inbox</h1>${done ? `<p role="status">${escapeHtml(done)}</p>` : ''}
${acting ? '' : '<p>Read-only: deciding needs the desk session, which only the terminal that started <code>task-orchestrator dashboard</code> receives.</p>'}
<div id="inbox-list" data-live><table><caption class="sr">Approval requests, newest first</caption><thead><tr><th scope="col">id</th><th scope="col">status</th><th scope="col">what</th><th scope="col">why it needs approval</th><th scope="col">requested by</th><th scope="col">expires</th><th scope="col">outcome / decide</th></tr></thead>
<tbody>${items.map((i) => inboxRow(i, acting, secrets)).join('') || '<tr><td colspan="7">nothing waits for a decision</td></tr>'}</tbody></table></div>`,
    '/inbox',
  );
}

/** GET /inbox, POST /inbox/<id>; returns false for other paths. */
export async function serveInbox(
  services: InboxServices,
  secrets: DeskSecrets,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  html: Html,
): Promise<boolean> {
  if (url.pathname === '/inbox' && req.method === 'GET') {
    html(200, await inboxPage(services, hasSession(req, secrets), secrets));
    return true;
  }
  const m = /^\/inbox\/([A-Za-z0-9_-]{1,80})$/.exec(url.pathname);
  if (!m || req.method !== 'POST') return false;
  const form = await readForm(req);
  const why = refusal(req, form, secrets);
  if (why) {
    res.writeHead(403, { 'content-type': 'text/plain' }).end(`refused: ${why}\n`);
    return true;
  }
  const id = m[1]!;
  const by = 'human (review desk)';
  const action = form.get('action');
  let done: string;
  if (action === 'approve') {
    // Claims the single execution in one locked write: a second approval is refused (CONFLICT).
    const { item, message } = await approveAndRun(services.inbox, services.commands, id, { by, via: 'desk' });
    done = `Approved ${item.id}: ${message}`;
  } else if (action === 'reject') {
    const reason = form.get('reason')?.trim();
    await services.inbox.decide(id, { approve: false, reason, by, via: 'desk' });
    done = `Rejected ${id}: ${reason ?? ''}`;
  } else {
    res.writeHead(400, { 'content-type': 'text/plain' }).end('action must be approve or reject\n');
    return true;
  }
  await services.audit.append({ entry_type: 'decision', title: `${action} ${id}`, content: done, actor: by });
  html(200, await inboxPage(services, true, secrets, done));
  return true;
}
