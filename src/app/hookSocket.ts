/**
 * The warm path for Claude Code's hooks: the running server (which Claude Code started for the
 * session, with the memory loaded) answers hook events on a unix socket in the state folder, so a
 * hook process only starts node, connects and waits. One JSON line each way:
 * {v: 1, event, input, hook_grade} -> {output} | {error}. The socket is the user's only (0600,
 * inside the state folder); a server that cannot bind (another one holds it, the path is too
 * long) simply does without, and the hook then does the work in its own process.
 */
import { promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { selectJudge } from '../agents/modelSelection.js';
import { gradeAsync } from '../evaluation/graders/pipeline.js';
import { HOOK_EVENTS, parseHookInput } from '../hooks/events.js';
import type { HookEventName } from '../hooks/events.js';
import { EMPTY_HOOK_SESSIONS, handleHook } from '../hooks/handlers.js';
import type { HookContext } from '../hooks/handlers.js';
import type { Services } from '../mcp/services.js';
import { defaultGraders } from '../runs/gradedRun.js';
import { SchemaCache } from '../tasks/gates.js';

export const HOOK_SOCKET = 'hooks.sock';
/** Unix socket paths are limited to ~107 bytes. */
const MAX_SOCKET_PATH = 100;
const MAX_REQUEST_BYTES = 4 * 1024 * 1024;

function contextFrom(services: Services, hookGrade: 'on' | 'judges' | 'off'): HookContext {
  const schemas = new SchemaCache();
  let sessions: ReturnType<HookContext['sessions']> | undefined;
  return {
    config: { ...services.config, hookGrade },
    now: () => new Date(services.clock.now()).toISOString(),
    immune: () => Promise.resolve(services.immune),
    redact: (text) => services.redact(text),
    classifier: () => Promise.resolve(services.classifier),
    sessions: () =>
      (sessions ??= Promise.resolve(services.storage.document('hook-sessions', EMPTY_HOOK_SESSIONS))),
    trials: () => Promise.resolve(services.trials),
    cases: () => Promise.resolve(services.cases),
    async readyTasks(limit) {
      return (await services.tasks.next({}))
        .slice(0, limit)
        .map((n) => ({ id: n.task.id, title: n.task.title, priority: n.task.priority }));
    },
    grade(prompt, output) {
      // Judges only when asked for, on an API provider: never the claude CLI from inside Claude Code.
      const apis = services.spawn.targetsAvailable.filter((t) => t.name !== 'claude-code');
      const target =
        hookGrade === 'judges' && services.graded.judge && services.config.judgeGraders !== 'off'
          ? selectJudge(
              apis,
              services.pricing,
              { provider: 'claude-code', model: 'claude-code' },
              services.clock.now(),
            )
          : undefined;
      const specs = defaultGraders(false, target ? services.config.judgeGraders : 'off', output).map((s) =>
        target && s.name !== 'non_empty' && s.name !== 'length' && s.name !== 'refusal'
          ? { ...s, judges: [`${target.provider}/${target.model}`] }
          : s,
      );
      return gradeAsync(output, specs, undefined, schemas, { judge: services.graded.judge, prompt });
    },
  };
}

/** Answers one connection: a request line, then the answer line. */
function answer(services: Services, socket: net.Socket): void {
  let buffer = '';
  socket.setEncoding('utf8');
  socket.on('error', () => undefined);
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    if (buffer.length > MAX_REQUEST_BYTES) socket.destroy();
    const newline = buffer.indexOf('\n');
    if (newline < 0) return;
    socket.removeAllListeners('data');
    const line = buffer.slice(0, newline);
    void (async () => {
      let reply: unknown;
      try {
        const request = JSON.parse(line) as {
          v?: number;
          event?: string;
          input?: string;
          hook_grade?: string;
        };
        const input = typeof request.input === 'string' ? parseHookInput(request.input) : undefined;
        if (request.v !== 1 || !(HOOK_EVENTS as readonly string[]).includes(request.event ?? '') || !input)
          reply = { output: null };
        else {
          const grade =
            request.hook_grade === 'judges' || request.hook_grade === 'off' ? request.hook_grade : 'on';
          const output = await handleHook(
            request.event as HookEventName,
            input,
            contextFrom(services, grade),
          );
          reply = { output: output ?? null };
        }
      } catch (error) {
        services.logger.warn('hook request failed', { error });
        reply = { error: error instanceof Error ? error.message : String(error) };
      }
      socket.end(`${JSON.stringify(reply)}\n`);
    })();
  });
}

/**
 * Listens on `<state>/hooks.sock` when it can; resolves with a stop function (a no-op when it did
 * not listen). A socket file nobody answers on is stale (a server that was killed) and replaced.
 */
export async function startHookSocket(services: Services): Promise<() => Promise<void>> {
  const file = path.join(services.config.stateDir, HOOK_SOCKET);
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
  const server = net.createServer({ allowHalfOpen: true }, (socket) => answer(services, socket));
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
  services.logger.debug('answering hooks', { socket: file });
  return () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      void fs.rm(file, { force: true });
    });
}
