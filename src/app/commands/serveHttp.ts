/** `serve --http`: MCP Streamable HTTP with bearer tokens. */
import { systemClock } from '../../core/clock.js';
import { packageVersion } from '../../core/version.js';
import { Authenticator } from '../../mcp/http/auth.js';
import { isLoopback, startHttpServer } from '../../mcp/http/httpServer.js';
import { openServices } from '../services.js';
import { configOrExit, fatal, onShutdown, serverLogger } from '../process.js';

export async function serveHttp(options: {
  host?: string;
  port?: string;
  allowedHosts?: string;
}): Promise<void> {
  const config = configOrExit();
  const logger = serverLogger(config);
  const host = options.host ?? '127.0.0.1';
  const port = Number(options.port ?? 8765);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fatal(new Error('--port must be 0-65535'));
  const allowedHosts = options.allowedHosts
    ? options.allowedHosts
        .split(',')
        .map((h) => h.trim().toLowerCase())
        .filter(Boolean)
    : config.http.allowedHosts;
  let auth: Authenticator;
  try {
    auth = new Authenticator({
      secret: config.http.jwtSecret,
      jwksUrl: config.http.jwksUrl,
      issuer: config.http.issuer,
      audience: config.http.audience,
    });
  } catch (error) {
    fatal(error);
  }
  if (!isLoopback(host) && allowedHosts.length === 0)
    fatal(
      new Error(
        `binding to ${host} needs --allowed-hosts (the host names clients use), or bind to 127.0.0.1`,
      ),
    );
  const services = await openServices(config, logger, systemClock).catch(fatal);
  const http = await startHttpServer(services, auth, {
    host,
    port,
    allowedHosts,
    allowedOrigins: config.http.allowedOrigins,
    maxBodyBytes: config.http.maxBodyBytes,
    ratePerMinute: config.http.ratePerMinute,
    maxConcurrent: config.http.maxConcurrent,
    shutdownGraceMs: 10_000,
    sessionIdleMs: config.http.sessionIdleS * 1000,
    sessionsPerSubject: config.http.sessionsPerSubject,
    preAuthRatePerMinute: config.http.preAuthRatePerMinute,
  }).catch(fatal);
  services.startBackground();
  onShutdown(logger, services, () => http.close());
  logger.info('serving over HTTP', { url: http.url, version: packageVersion(), stateDir: config.stateDir });
  process.stderr.write(`task-orchestrator: MCP over HTTP at ${http.url}\n`);
}
