/**
 * The hook process Claude Code starts for each event (`task-orchestrator hook <event>`): it reads
 * the event (JSON on stdin), asks the session's server on its socket (hooks/socketServer.ts), or
 * else does the work itself, and answers in Claude Code's hook format on stdout. It never breaks
 * Claude Code: it always exits 0 and notes problems in `<state>/hooks.log`. The command guard
 * (PreToolUse) is never silent where silence would let a command through: a deadline passed, an
 * event too large or not readable answers `ask`; an internal error answers no decision with a
 * message telling the person the guard is down. The other events fail open.
 */
import { appendFileSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { HookSettings } from '../config/hookProject.js';
import { HOOK_EVENTS, parseHookInput } from './events.js';
import type { HookEventName, HookInput, HookOutput } from './events.js';
import type { HookContext } from './handlers.js';
import { HOOK_SOCKET, readReply, writeRequest } from './wire.js';

/** Claude Code waits up to the hook's timeout (15 s in hooks.json); give up well before. */
const DEADLINE_MS = 8_000;
/** How long the running server gets before this process does the work itself. */
const WARM_WAIT_MS = 3_000;
const MAX_INPUT_BYTES = 4 * 1024 * 1024;

/** Where the hook does the work when no server answers: the context, and what to close after. */
export interface LocalHook {
  /** The state folder as the configuration resolves it. */
  stateDir: string;
  /** Hooks are on in the configuration. */
  enabled: boolean;
  context(): HookContext;
  close(): Promise<void>;
}

export interface HookProcessOptions {
  event: string;
  settings: HookSettings;
  stdin: NodeJS.ReadableStream & { destroy(): void };
  write(text: string): void;
  /** Writes to stderr (an unknown event). */
  warn(text: string): void;
  /** Loads the configuration of a project and opens what the handlers need there. */
  local(projectDir: string, note: (message: string) => void): Promise<LocalHook>;
  /**
   * Whether the event's full handling would add and record nothing, told from files alone
   * (hooks/quiet.ts): then the configuration and the handlers are not loaded at all.
   */
  quiet?(event: string, input: HookInput, projectDir: string, stateDir: string): Promise<boolean>;
}

/** The guard's answer when it cannot decide: the person decides (silence would let it run). */
function askOutput(reason: string): HookOutput {
  return {
    hookSpecificOutput: {
      hookEventName: 'PreToolUse',
      permissionDecision: 'ask',
      permissionDecisionReason: `task-orchestrator could not check this call (${reason}): approve it only if you have read it`,
    },
  };
}

/** The guard failed: no decision, and the person is told that nothing was checked. */
function guardDownOutput(reason: string): HookOutput {
  return {
    systemMessage: `task-orchestrator's command guard is down (${reason.slice(0, 200)}); this call was not checked. See .task-orchestrator/hooks.log.`,
  };
}

class OversizedEvent extends Error {}

function readAll(stdin: HookProcessOptions['stdin']): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stdin.on('data', (d: Buffer) => {
      size += d.length;
      if (size > MAX_INPUT_BYTES) {
        reject(new OversizedEvent(`the event is larger than ${MAX_INPUT_BYTES / 1024 / 1024} MB`));
        stdin.destroy();
      } else chunks.push(d);
    });
    stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    stdin.on('error', reject);
  });
}

/** Appends a line to `<state>/hooks.log` (nowhere to note it: the hook still answers). */
function noteTo(stateDir: string | undefined, event: string, message: string): void {
  if (!stateDir) return;
  try {
    mkdirSync(stateDir, { recursive: true });
    const line = JSON.stringify({ at: new Date().toISOString(), event, message: message.slice(0, 2000) });
    appendFileSync(path.join(stateDir, 'hooks.log'), `${line}\n`);
  } catch {
    // nowhere to note it
  }
}

/**
 * Asks the running server of this state folder. Resolves undefined when there is none to ask (no
 * socket, refused: this process does the work), '' when it took the event but did not answer.
 */
async function askServer(stateDir: string, request: string, waitMs: number): Promise<string | undefined> {
  const file = path.join(stateDir, HOOK_SOCKET);
  if (!existsSync(file)) return undefined;
  // Loaded only when there is a socket to ask: a process with no server to ask saves its cost.
  const { default: net } = await import('node:net');
  return new Promise((resolve) => {
    let reply = '';
    let connected = false;
    const socket = net.createConnection(file);
    socket.setEncoding('utf8');
    socket.setTimeout(waitMs);
    socket.on('connect', () => {
      connected = true;
      socket.end(request);
    });
    socket.on('data', (d: string) => (reply += d));
    socket.on('end', () => resolve(reply));
    socket.on('error', () => resolve(connected ? '' : undefined));
    socket.on('timeout', () => {
      socket.destroy();
      resolve('');
    });
  });
}

/** Runs one hook event to its answer (see the module comment). */
export async function runHookProcess(options: HookProcessOptions): Promise<void> {
  const { event, settings } = options;
  let stateDir: string | undefined;
  const note = (message: string) => noteTo(stateDir, event, message);
  const guarding = event === 'PreToolUse';
  let answered = false;
  const answer = (output: HookOutput) => {
    if (answered) return;
    answered = true;
    if (output) options.write(`${JSON.stringify(output)}\n`);
  };
  const deadline = setTimeout(() => {
    note(`gave up after ${DEADLINE_MS} ms${guarding ? ' (asked the person)' : ' (no decision)'}`);
    if (guarding) answer(askOutput(`no answer within ${DEADLINE_MS / 1000} s`));
    process.exit(0);
  }, DEADLINE_MS);
  deadline.unref();
  let local: LocalHook | undefined;
  try {
    if (!(HOOK_EVENTS as readonly string[]).includes(event)) {
      options.warn(`task-orchestrator hook: unknown event "${event}" (known: ${HOOK_EVENTS.join(', ')})\n`);
      return;
    }
    if (!settings.enabled) return;
    let text: string;
    try {
      text = await readAll(options.stdin);
    } catch (error) {
      if (guarding && error instanceof OversizedEvent) answer(askOutput(error.message));
      throw error;
    }
    const input = parseHookInput(text);
    if (!input) {
      if (guarding) answer(askOutput('the event is not a JSON object'));
      return;
    }
    // The project is Claude Code's (CLAUDE_PROJECT_DIR), wherever its shell has moved since.
    const projectDir = settings.projectDir(typeof input.cwd === 'string' ? input.cwd : undefined);
    stateDir = settings.stateDir(projectDir);
    // A read-only hook (inside `claude plugin eval`) never asks a server: the server would record.
    const reply = settings.readOnly
      ? undefined
      : await askServer(stateDir, writeRequest(event, text, settings.hookGrade), WARM_WAIT_MS);
    const parsed = reply ? readReply(reply) : undefined;
    if (parsed && 'error' in parsed) {
      note(`server: ${parsed.error}`);
      if (guarding) answer(guardDownOutput(parsed.error));
      return;
    }
    if (parsed) return answer(parsed.output ?? undefined);
    // No server: this process does the work. A server that took the event but did not answer in
    // time may still record it, so only the guard (which records nothing) answers here then.
    if (reply !== undefined) {
      note(`the server did not answer within ${WARM_WAIT_MS} ms${guarding ? '; answering here' : ''}`);
      if (!guarding) return;
    }
    if (reply === undefined && (await options.quiet?.(event, input, projectDir, stateDir))) return;
    local = await options.local(projectDir, note);
    stateDir = local.stateDir;
    if (!local.enabled) return;
    const { handleHook } = await import('./handlers.js');
    answer(await handleHook(event as HookEventName, input, local.context()));
  } catch (error) {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    note(message);
    if (guarding) answer(guardDownOutput(message));
  } finally {
    await local?.close();
    clearTimeout(deadline);
    process.exitCode = 0;
  }
}
