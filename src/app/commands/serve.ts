/** `serve`: the MCP server on stdio (what `claude mcp add` starts). */
import { systemClock } from '../../core/clock.js';
import { packageVersion } from '../../core/version.js';
import { createServer } from '../../mcp/server.js';
import { LimitedStdioTransport } from '../../mcp/stdioTransport.js';
import { openServices } from '../services.js';
import { startHookSocket } from '../../hooks/socketServer.js';
import { serverHookContext } from '../hookWiring.js';
import { configOrExit, fatal, isBrokenPipe, markStderrBroken, onShutdown, serverLogger } from '../process.js';

export async function serve(options: {
  http?: boolean;
  host?: string;
  port?: string;
  allowedHosts?: string;
}): Promise<void> {
  if (options.http) return (await import('./serveHttp.js')).serveHttp(options);
  const config = configOrExit();
  const logger = serverLogger(config);

  const services = await openServices(config, logger, systemClock).catch(fatal);
  let server;
  try {
    server = createServer(services);
  } catch (error) {
    fatal(error);
  }
  // Claude Code's hooks ask this server first (the memory is loaded here): see hooks/socketServer.ts.
  const stopHooks = await startHookSocket({
    stateDir: config.stateDir,
    logger,
    contextFor: (hookGrade) => serverHookContext(services, hookGrade),
  }).catch((error: unknown) => {
    logger.warn('hook socket not started', { error });
    return () => Promise.resolve();
  });
  const shutdown = onShutdown(logger, services, async () => {
    await stopHooks();
    await server.close();
  });
  process.stdin.on('end', () => void shutdown('stdin closed'));
  // The client went away: a write to its pipes fails. End within a second rather than spin.
  const gone = (what: string) => () => {
    if (what === 'stderr') markStderrBroken();
    void shutdown(`${what} closed by the client`, 900);
  };
  process.stdout.on('error', gone('stdout'));
  process.stderr.on('error', gone('stderr'));
  const transport = new LimitedStdioTransport(process.stdin, process.stdout, {
    logger,
    maxLineBytes: config.maxRequestBytes,
  });
  transport.onerror = (error) => {
    if (isBrokenPipe(error)) gone('stdout')();
    else logger.warn('stdio transport error', { error });
  };
  await server.connect(transport);
  services.startBackground();
  logger.info('serving on stdio', {
    version: packageVersion(),
    stateDir: config.stateDir,
    tools: config.tools,
  });
}
