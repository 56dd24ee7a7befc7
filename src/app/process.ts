/** What every command shares: fatal errors, config, loggers and orderly shutdown. */
import { loadConfig } from '../config/config.js';
import type { Config } from '../config/config.js';
import { describeError } from '../core/errors.js';
import { createLogger } from '../core/logger.js';
import type { Logger } from '../core/logger.js';
import { createRedactor } from '../safety/redact.js';
import type { Services } from '../mcp/services.js';

export function fatal(error: unknown): never {
  process.stderr.write(`task-orchestrator: ${describeError(error)}\n`);
  process.exit(1);
}

export function configOrExit(): Config {
  try {
    return loadConfig();
  } catch (error) {
    fatal(error);
  }
}

/** A stderr logger whose every line passes the secret redactor. */
export function cliLogger(config: Config, level: Config['logLevel'], base?: Record<string, unknown>): Logger {
  return createLogger({
    level,
    redact: createRedactor({ secrets: config.secrets, patterns: config.redactPatterns }),
    ...(base ? { base } : {}),
  });
}

/** Set once stderr cannot be written (the client closed it): nothing more is logged there. */
let stderrBroken = false;

/** Stops all further stderr logging (the client closed the pipe). */
export function markStderrBroken(): void {
  stderrBroken = true;
}

export const isBrokenPipe = (error: unknown) =>
  ['EPIPE', 'ERR_STREAM_DESTROYED', 'ECONNRESET'].includes((error as NodeJS.ErrnoException)?.code ?? '');

/** The server's stderr logger; a tool bug must never take the session down (Claude Code does not restart a crashed server). */
export function serverLogger(config: Config): Logger {
  const logger = createLogger({
    level: config.logLevel,
    redact: createRedactor({ secrets: config.secrets, patterns: config.redactPatterns }),
    base: { pid: process.pid },
    write: (line) => {
      if (!stderrBroken && !process.stderr.destroyed) process.stderr.write(line);
    },
  });
  process.stderr.on('error', () => {
    stderrBroken = true;
  });
  process.on('unhandledRejection', (error) => logger.error('unhandled rejection', { error }));
  process.on('uncaughtException', (error) => {
    // The client is gone (its end of a pipe closed): logging about it would only fail again.
    if (isBrokenPipe(error)) process.exit(0);
    logger.error('uncaught exception', { error });
  });
  return logger;
}

/**
 * Shuts down once on SIGTERM/SIGINT (or the returned trigger): stops the transport, flushes
 * traces and storage (everything acknowledged is already durable), exits 0.
 */
export function onShutdown(logger: Logger, services: Services, stopTransport: () => Promise<void>) {
  let stopping = false;
  const shutdown = async (reason: string, graceMs = 5_000) => {
    if (stopping) return;
    stopping = true;
    // Whatever hangs (a stuck flush, a broken pipe), the process ends.
    setTimeout(() => process.exit(0), graceMs).unref();
    logger.info('shutting down', { reason });
    await stopTransport().catch(() => {});
    await services.close().catch((error: unknown) => logger.error('storage close failed', { error }));
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  return shutdown;
}
