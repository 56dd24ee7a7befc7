/** `dashboard`: the immune dashboard on a loopback port, or written to a file. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import { systemClock } from '../../core/clock.js';
import { AppError, describeError } from '../../core/errors.js';
import { renderHtml } from '../../immune/dashboard/dashboardRender.js';
import { buildDashboard } from '../../mcp/dashboard.js';
import { checkPerson } from '../../safety/personCheck.js';
import { openServices } from '../services.js';
import { cliLogger, configOrExit, fatal } from '../process.js';
import { serveDesk, tradeToken } from '../reviewDesk.js';
import type { DeskSecrets } from '../reviewDesk.js';
import { DESK_SCRIPT, DeskEvents } from '../deskLive.js';

export async function dashboardCommand(options: {
  port: string;
  host: string;
  days: string;
  out?: string;
}): Promise<void> {
  const config = configOrExit();
  const port = Number(options.port);
  const days = Number(options.days);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fatal(new Error('--port must be 0-65535'));
  if (!Number.isInteger(days) || days < 1 || days > 365) fatal(new Error('--days must be 1-365'));
  if (!['127.0.0.1', 'localhost', '::1'].includes(options.host))
    fatal(
      new Error(
        '--host must be a loopback address (127.0.0.1, localhost or ::1): the dashboard has no authentication',
      ),
    );
  const logger = cliLogger(config, config.logLevel);
  const services = await openServices(config, logger, systemClock).catch(fatal);
  if (options.out) {
    await fs.writeFile(path.resolve(options.out), renderHtml(await buildDashboard(services, days)));
    await services.close();
    process.stderr.write(`wrote ${path.resolve(options.out)}\n`);
    return;
  }
  // Acting on the memory is for the person at this terminal: the session link is printed only to
  // a person's own terminal (not a pty an agent made, not anything inside Claude Code), so a desk
  // an agent starts, however wrapped, has no session and stays read-only.
  const person = checkPerson({
    stdinIsTTY: Boolean(process.stdin.isTTY),
    stdoutIsTTY: Boolean(process.stdout.isTTY),
    insideClaudeCode: config.insideClaudeCode,
  });
  const secrets: DeskSecrets = {
    session: person.ok ? randomBytes(24).toString('hex') : undefined,
    csrf: randomBytes(24).toString('hex'),
  };
  const live = new DeskEvents(services);
  const server = createHttpServer((req, res) => {
    // Only this machine, by its own name: refuses DNS-rebinding requests for other host names.
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    if (!['127.0.0.1', 'localhost', '[::1]'].includes(host)) {
      res.writeHead(403, { 'content-type': 'text/plain' }).end('forbidden host\n');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/' && tradeToken(req, res, url, secrets)) return;
    if (req.method === 'GET' && url.pathname === '/events') return live.serve(req, res);
    if (req.method === 'GET' && url.pathname === '/desk.js') {
      res
        .writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' })
        .end(DESK_SCRIPT);
      return;
    }
    if (['/patterns', '/inbox', '/runs'].some((prefix) => url.pathname.startsWith(prefix))) {
      serveDesk(services, secrets, req, res, url)
        .then((served) => {
          if (!served) res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
        })
        .catch((error: unknown) => {
          const code = error instanceof AppError ? error.code : 'INTERNAL';
          const status =
            ({ NOT_FOUND: 404, CONFLICT: 409, INVALID_INPUT: 400, FORBIDDEN: 403 } as Record<string, number>)[
              code
            ] ?? 500;
          if (status === 500) logger.error('review desk failed', { error });
          res.writeHead(status, { 'content-type': 'text/plain' }).end(`${describeError(error)}\n`);
        });
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
      .catch((error: unknown) => {
        logger.error('dashboard failed', { error });
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`${describeError(error)}\n`);
      });
  });
  server.listen(port, options.host, () => {
    const address = server.address();
    const actual = typeof address === 'object' && address ? address.port : port;
    const shown = options.host === '::1' ? '[::1]' : options.host;
    process.stdout.write(`immune dashboard at http://${shown}:${actual}/ (Ctrl-C to stop)\n`);
    process.stdout.write(
      secrets.session
        ? `review desk (act on patterns; keep this link to yourself): http://${shown}:${actual}/?token=${secrets.session}\n`
        : `review desk read-only at http://${shown}:${actual}/patterns (actions need the dashboard started by a person in a terminal of their own: ${person.ok ? '' : person.reason})\n`,
    );
  });
  server.on('error', (error) => fatal(error));
  const stop = () => {
    server.close();
    server.closeAllConnections();
    void services.close().finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
