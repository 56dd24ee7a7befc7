/**
 * The warm path for Claude Code's hooks: the running server (which Claude Code started for the
 * session, with the memory loaded) answers hook events on a unix socket in the state folder, so a
 * hook process only starts node, connects and waits (hooks/wire.ts is the line format). The socket
 * is the user's only (0600, inside the state folder); a server that cannot bind (another one holds
 * it, the path is too long) simply does without, and the hook then does the work in its own process.
 */
import { promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Logger } from '../core/logger.js';
import { handleHook } from './handlers.js';
import type { HookContext } from './handlers.js';
import { HOOK_SOCKET, readRequest, writeReply } from './wire.js';
import type { HookGrade, HookReply } from './wire.js';

/** Unix socket paths are limited to ~107 bytes. */
const MAX_SOCKET_PATH = 100;
const MAX_REQUEST_BYTES = 4 * 1024 * 1024;

export interface HookSocketOptions {
  stateDir: string;
  logger: Logger;
  /** The hook context for one event (hooks/context.ts over the server's services). */
  contextFor(hookGrade: HookGrade): HookContext;
}

/** Answers one connection: a request line, then the answer line. */
function answer(options: HookSocketOptions, socket: net.Socket): void {
  let buffer = '';
  socket.setEncoding('utf8');
  socket.on('error', () => undefined);
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    if (buffer.length > MAX_REQUEST_BYTES) socket.destroy();
    const newline = buffer.indexOf('\n');
    if (newline < 0) return;
    socket.removeAllListeners('data');
    const request = readRequest(buffer.slice(0, newline));
    void (async () => {
      let reply: HookReply;
      try {
        reply = request
          ? {
              output:
                (await handleHook(request.event, request.input, options.contextFor(request.hookGrade))) ??
                null,
            }
          : { output: null };
      } catch (error) {
        options.logger.warn('hook request failed', { error });
        reply = { error: error instanceof Error ? error.message : String(error) };
      }
      socket.end(writeReply(reply));
    })();
  });
}

/**
 * Listens on `<state>/hooks.sock` when it can; resolves with a stop function (a no-op when it did
 * not listen). A socket file nobody answers on is stale (a server that was killed) and replaced.
 */
export async function startHookSocket(options: HookSocketOptions): Promise<() => Promise<void>> {
  const file = path.join(options.stateDir, HOOK_SOCKET);
  const none = () => Promise.resolve();
  if (file.length > MAX_SOCKET_PATH || process.platform === 'win32') return none;
  const alive = await new Promise<boolean>((resolve) => {
    const probe = net.createConnection(file);
    probe.on('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.on('error', () => resolve(false));
  });
  if (alive) return none; // another server of this state folder answers
  await fs.rm(file, { force: true });
  // The client half-closes after its request: keep our side open for the answer.
  const server = net.createServer({ allowHalfOpen: true }, (socket) => answer(options, socket));
  const listening = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    // The socket is created 0600 (bind happens within listen(), in this tick): no moment in which
    // another user could connect. The umask is process-wide, so it is restored at once.
    const umask = process.umask(0o177);
    try {
      server.listen(file, () => resolve(true));
    } finally {
      process.umask(umask);
    }
  });
  if (!listening) return none;
  await fs.chmod(file, 0o600).catch(() => undefined);
  server.unref();
  options.logger.debug('answering hooks', { socket: file });
  return () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      void fs.rm(file, { force: true });
    });
}
