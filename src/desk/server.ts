/**
 * The desk's HTTP server (`task-orchestrator dashboard`): the dashboard page (`/`, `/data.json`),
 * the review desk's pages (`/patterns`, `/inbox`, `/runs`, `/evals`, `/trials/<id>`), live updates (`/events`) and its one
 * script (`/desk.js`). Who may read and act is decided in boundary.ts; routing only here.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppError, describeError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { allowedHost, tradeToken } from './boundary.js';
import type { DeskSecrets } from './boundary.js';
import { buildDashboard } from './dashboard/data.js';
import type { DashboardSources } from './dashboard/data.js';
import { renderHtml } from './dashboard/render.js';
import type { DeskServices, Html } from './deps.js';
import { DeskEvents } from './live.js';
import { serveInbox } from './pages/inbox.js';
import { listPage, servePattern } from './pages/patterns.js';
import { serveRuns } from './pages/runs.js';
import { serveEvals } from './pages/evals.js';

export interface DeskServerOptions {
  services: DeskServices & DashboardSources;
  secrets: DeskSecrets;
  /** Window of the dashboard's trend and totals, in days. */
  days: number;
  logger: Logger;
}

/** The browser script, a real file beside this module (copied to dist by the build). */
const SCRIPT_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'static', 'desk.js');
let script: string | undefined;

const STATUS: Record<string, number> = { NOT_FOUND: 404, CONFLICT: 409, INVALID_INPUT: 400, FORBIDDEN: 403 };

export function createDeskServer(options: DeskServerOptions): Server {
  const { services, secrets, days, logger } = options;
  const live = new DeskEvents(services);
  const failed = (res: ServerResponse, error: unknown, what: string) => {
    const status = STATUS[error instanceof AppError ? error.code : ''] ?? 500;
    if (status === 500) logger.error(`${what} failed`, { error });
    if (!res.headersSent) res.writeHead(status, { 'content-type': 'text/plain' });
    res.end(`${describeError(error)}\n`);
  };
  const desk = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> => {
    const html: Html = (status, body) =>
      res
        .writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
        .end(body);
    if (url.pathname.startsWith('/inbox')) return serveInbox(services, secrets, req, res, url, html);
    if (url.pathname === '/runs' && req.method === 'GET') {
      await serveRuns(services, html);
      return true;
    }
    if ((url.pathname.startsWith('/evals') || url.pathname.startsWith('/trials/')) && req.method === 'GET')
      return serveEvals(services, url, html);
    if (url.pathname === '/patterns' && req.method === 'GET') {
      html(200, await listPage(services, url));
      return true;
    }
    return servePattern(services, secrets, req, res, url, html);
  };
  return createServer((req, res) => {
    // Only this machine, by its own name: refuses DNS-rebinding requests for other host names.
    if (!allowedHost(req)) {
      res.writeHead(403, { 'content-type': 'text/plain' }).end('forbidden host\n');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/' && tradeToken(req, res, url, secrets)) return;
    if (req.method === 'GET' && url.pathname === '/events') return live.serve(req, res);
    if (req.method === 'GET' && url.pathname === '/desk.js') {
      script ??= readFileSync(SCRIPT_FILE, 'utf8');
      res
        .writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' })
        .end(script);
      return;
    }
    if (
      ['/patterns', '/inbox', '/runs', '/evals', '/trials/'].some((prefix) => url.pathname.startsWith(prefix))
    ) {
      desk(req, res, url)
        .then((served) => {
          if (!served) res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
        })
        .catch((error: unknown) => failed(res, error, 'review desk'));
      return;
    }
    if (req.method !== 'GET' || !['/', '/data.json'].includes(url.pathname)) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try / or /data.json\n');
      return;
    }
    const window = Number(url.searchParams.get('days') ?? days);
    buildDashboard(services, Number.isInteger(window) && window >= 1 && window <= 365 ? window : days)
      .then((d) => {
        if (url.pathname === '/data.json')
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(d));
        else
          res
            .writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
            .end(renderHtml(d));
      })
      .catch((error: unknown) => failed(res, error, 'dashboard'));
  });
}
