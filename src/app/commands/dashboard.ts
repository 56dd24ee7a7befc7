/** `dashboard`: the desk (src/desk) on a loopback port, or its dashboard page written to a file. Wiring only. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { systemClock } from '../../core/clock.js';
import type { DeskSecrets } from '../../desk/boundary.js';
import { buildDashboard } from '../../desk/dashboard/data.js';
import { renderHtml } from '../../desk/dashboard/render.js';
import { createDeskServer } from '../../desk/server.js';
import { checkPerson } from '../../safety/personCheck.js';
import { openServices } from '../services.js';
import { cliLogger, configOrExit, fatal } from '../process.js';

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
  const server = createDeskServer({ services, secrets, days, logger });
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
