/** The frame of every desk page: navigation, the only script (/desk.js), the content policy, styles. */
import { escapeHtml } from './html.js';

const NAV: Array<[string, string]> = [
  ['/', 'Dashboard'],
  ['/patterns', 'Patterns'],
  ['/inbox', 'Approval inbox'],
  ['/runs', 'Runs'],
  ['/evals', 'Evaluations'],
];

/**
 * A desk page. The only script is /desk.js (same origin; live regions); the policy forbids
 * inline scripts, other origins and form posts elsewhere.
 */
export const page = (title: string, body: string, current = '') => `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; form-action 'self'">
<title>${escapeHtml(title)} · task-orchestrator</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d2430;background:#f6f7f9}
a{color:#0969da}table{border-collapse:collapse;width:100%;background:#fff}td,th{border-bottom:1px solid #eee;padding:4px 6px;text-align:left;vertical-align:top}
form.filters label{margin-right:10px}.panel{background:#fff;border-radius:8px;padding:12px;margin:12px 0;box-shadow:0 1px 2px #0001}
pre{white-space:pre-wrap;background:#f6f8fa;padding:8px;border-radius:6px}button{margin:2px 6px 2px 0}
:focus{outline:2px solid #0969da;outline-offset:2px}
.skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;background:#fff;padding:4px}
tr.new td{background:#fff8c5}.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
.bars rect.occ{fill:#cf222e}.bars rect.hit{fill:#0969da}.bars rect.blk{fill:#1d2430}.bars text{font-size:10px;fill:#57606a}
textarea{width:100%;max-width:640px}
</style><script src="/desk.js" defer></script></head><body><a class="skip" href="#main">Skip to content</a>
<nav aria-label="Desk">${NAV.map(([href, label]) => `<a href="${href}"${href === current ? ' aria-current="page"' : ''}>${label}</a>`).join(' · ')}</nav>
<p id="live-status" class="sr" aria-live="polite"></p>
<main id="main" tabindex="-1">${body}</main></body></html>`;
