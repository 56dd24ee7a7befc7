/** The recent supervisor runs on the desk, drawn as graphs coloured by state. */
import { runGraph } from '../dashboard/data.js';
import { runSvg } from '../dashboard/render.js';
import type { DeskServices, Html } from '../deps.js';
import { escapeHtml } from '../html.js';
import { page } from '../layout.js';

/** GET /runs. */
export async function serveRuns(services: Pick<DeskServices, 'runs'>, html: Html): Promise<void> {
  const runs = (await services.runs.list()).slice(0, 20).map(runGraph);
  html(
    200,
    page(
      'Supervisor runs',
      `<h1>Supervisor runs</h1><div id="run-list" data-live><style>.edge{stroke:#8c959f;stroke-width:1.5}.node rect{fill:#eaeef2;stroke:#8c959f}.node text{font-size:12px}.node.done rect{fill:#dafbe1;stroke:#1a7f37}.node.running rect{fill:#ddf4ff;stroke:#0969da}.node.blocked rect{fill:#ffebe9;stroke:#cf222e}.node.skipped rect,.node.cancelled rect{fill:#f6f8fa;stroke:#d0d7de}</style>${
        runs
          .map(
            (r) =>
              `<div class="panel"><h2>${escapeHtml(r.id)} · ${escapeHtml(r.status)} · ${escapeHtml(r.title)} · $${r.spent_usd}</h2>${runSvg(r)}</div>`,
          )
          .join('') || '<p>No runs yet (tasks_run).</p>'
      }</div><p>green done · blue running · grey waiting · red blocked (a decision in the <a href="/inbox">inbox</a>) · pale skipped</p>`,
      '/runs',
    ),
  );
}
