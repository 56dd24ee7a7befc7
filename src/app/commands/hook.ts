/**
 * `hook <event>`: Claude Code's hook handler. Reads the event (JSON on stdin), answers in Claude
 * Code's hook format on stdout, and never breaks Claude Code: it always exits 0 and notes problems
 * in `<state>/hooks.log`. The command guard (PreToolUse) is never silent where silence would let a
 * command through: a deadline passed, an event too large or not readable answers `ask`; an
 * internal error answers no decision with a message telling the person the guard is down. The
 * other events fail open. Everything is imported when needed, so a hook that has nothing to do
 * costs little more than starting node.
 */
import { appendFileSync, existsSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { hookProjectDir } from '../../config/hookProject.js';
import type { Config } from '../../config/config.js';
import type { Redactor } from '../../safety/redact.js';
import type { Storage } from '../../storage/storage.js';
import { HOOK_EVENTS, parseHookInput } from '../../hooks/events.js';
import type { HookEventName, HookOutput } from '../../hooks/events.js';
import type { HookContext } from '../../hooks/handlers.js';

/** Claude Code waits up to the hook's timeout (15 s in hooks.json); give up well before. */
const DEADLINE_MS = 8_000;
/** How long the running server gets before this process does the work itself. */
const WARM_WAIT_MS = 3_000;
const MAX_INPUT_BYTES = 4 * 1024 * 1024;

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

function print(output: HookOutput): void {
  if (output) process.stdout.write(`${JSON.stringify(output)}\n`);
}

class OversizedEvent extends Error {}

function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    process.stdin.on('data', (d: Buffer) => {
      size += d.length;
      if (size > MAX_INPUT_BYTES) {
        reject(new OversizedEvent(`the event is larger than ${MAX_INPUT_BYTES / 1024 / 1024} MB`));
        process.stdin.destroy();
      } else chunks.push(d);
    });
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}

function note(stateDir: string | undefined, event: string, message: string): void {
  if (!stateDir) return;
  try {
    mkdirSync(stateDir, { recursive: true });
    const line = JSON.stringify({ at: new Date().toISOString(), event, message: message.slice(0, 2000) });
    appendFileSync(path.join(stateDir, 'hooks.log'), `${line}\n`);
  } catch {
    // nowhere to note it: the hook still answers nothing
  }
}

/**
 * Asks the running server of this state folder (the warm path, see app/hookSocket.ts). Resolves
 * undefined when there is none to ask (no socket, refused): then this process does the work.
 */
function askServer(
  stateDir: string,
  event: string,
  input: string,
  waitMs: number,
): Promise<string | undefined> {
  const file = path.join(stateDir, 'hooks.sock');
  if (!existsSync(file)) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    let reply = '';
    let connected = false;
    const socket = net.createConnection(file);
    socket.setEncoding('utf8');
    socket.setTimeout(waitMs);
    socket.on('connect', () => {
      connected = true;
      socket.end(
        `${JSON.stringify({ v: 1, event, input, hook_grade: process.env.TASK_ORCHESTRATOR_HOOK_GRADE?.trim().toLowerCase() })}\n`,
      );
    });
    socket.on('data', (d: string) => (reply += d));
    socket.on('end', () => resolve(reply));
    // Refused or stale before connecting: undefined (do it here). After connecting: '' (no answer).
    socket.on('error', () => resolve(connected ? '' : undefined));
    socket.on('timeout', () => {
      socket.destroy();
      resolve('');
    });
  });
}

/** The handlers' dependencies, each opened on first use. */
function lazyContext(config: Config, redact: Redactor): HookContext & { close(): Promise<void> } {
  let storage: Promise<Storage> | undefined;
  const once = <T>(make: () => Promise<T>) => {
    let made: Promise<T> | undefined;
    return () => (made ??= make());
  };
  const clock = { now: () => Date.now() };
  const openStore = () =>
    (storage ??= (async () => {
      const [{ openStorage }, { createLogger }] = await Promise.all([
        import('../../storage/storage.js'),
        import('../../core/logger.js'),
      ]);
      const logger = createLogger({
        level: 'warn',
        redact,
        write: (line) => note(config.stateDir, 'log', line.trim()),
      });
      return openStorage({ stateDir: config.stateDir, logger, redact });
    })());
  const immune = once(async () => {
    const { ImmuneSystem } = await import('../../immune/immuneSystem.js');
    return new ImmuneSystem(await openStore(), clock, {
      blockThreshold: config.immuneBlockRisk,
      blockAfter: config.immuneBlockAfter,
      shareByDefault: config.federationShare,
    });
  });
  const classifier = once(async () => {
    const { OperationClassifier } = await import('../../safety/classifier.js');
    return OperationClassifier.load(config.dataDir, config.stateDir, {
      projectDir: config.projectDir,
      cliPath: config.cliPath,
    });
  });

  const trials = once(async () => {
    const { TrialStore } = await import('../../evaluation/trials.js');
    return new TrialStore((await openStore()).log('trials'), clock);
  });
  const cases = once(async () => {
    const { CaseBook, EMPTY_CASES } = await import('../../evaluation/cases.js');
    return new CaseBook((await openStore()).document('cases', EMPTY_CASES), clock);
  });
  const sessions = once(async () => {
    const { EMPTY_HOOK_SESSIONS } = await import('../../hooks/handlers.js');
    return (await openStore()).document('hook-sessions', EMPTY_HOOK_SESSIONS);
  });
  let services: { close(): Promise<void> } | undefined;
  return {
    config,
    now: () => new Date().toISOString(),
    immune,
    classifier,
    redact,
    sessions,
    trials,
    cases,
    async readyTasks(limit) {
      const [{ TaskService }, { createLogger }] = await Promise.all([
        import('../../tasks/taskService.js'),
        import('../../core/logger.js'),
      ]);
      const refuse = () => Promise.reject(new Error('hooks do not run gates'));
      const tasks = new TaskService({
        storage: await openStore(),
        logger: createLogger({ level: 'error', write: () => undefined }),
        clock,
        projectDir: config.projectDir,
        gates: { vet: refuse, run: refuse },
      });
      return (await tasks.next({}))
        .slice(0, limit)
        .map((n) => ({ id: n.task.id, title: n.task.title, priority: n.task.priority }));
    },
    async grade(prompt, output) {
      const [{ gradeAsync }, { defaultGraders }, { SchemaCache }] = await Promise.all([
        import('../../evaluation/graders/pipeline.js'),
        import('../../runs/gradedRun.js'),
        import('../../tasks/gates.js'),
      ]);
      const apiProviders = config.providers.filter((p) => p.name !== 'claude-code');
      // Judges send the answer to a provider: only when asked for (privacy by default).
      if (config.hookGrade !== 'judges' || apiProviders.length === 0 || config.judgeGraders === 'off')
        return gradeAsync(output, defaultGraders(false, 'off', output), undefined, new SchemaCache(), {
          prompt,
        });
      // Judges go through the full pipeline (budget, breakers), so open the services for them.
      const [{ openServices }, { createLogger }] = await Promise.all([
        import('../services.js'),
        import('../../core/logger.js'),
      ]);
      const full = await openServices(
        config,
        createLogger({ level: 'warn', write: (line) => note(config.stateDir, 'log', line.trim()) }),
        clock,
      );
      services = full;
      return gradeAsync(
        output,
        defaultGraders(false, config.judgeGraders, output),
        undefined,
        new SchemaCache(),
        { judge: full.graded.judge, prompt, judged: { provider: 'claude-code', model: 'claude-code' } },
      );
    },
    async close() {
      await services?.close().catch(() => undefined);
      if (storage) await (await storage).close().catch(() => undefined);
    },
  };
}

export async function hookCommand(event: string): Promise<void> {
  // This process lives for one event: the shell grammar's WebAssembly is run by V8's baseline
  // compiler only. With tiering on, V8 compiles it again in the background and the process waits
  // for that at exit (measured: 0.56 s instead of 0.12 s per hook).
  setFlagsFromString('--liftoff-only');
  let stateDir: string | undefined;
  const guarding = event === 'PreToolUse';
  let answered = false;
  const answer = (output: HookOutput) => {
    if (answered) return;
    answered = true;
    print(output);
  };
  const deadline = setTimeout(() => {
    note(
      stateDir,
      event,
      `gave up after ${DEADLINE_MS} ms${guarding ? ' (asked the person)' : ' (no decision)'}`,
    );
    if (guarding) answer(askOutput(`no answer within ${DEADLINE_MS / 1000} s`));
    process.exit(0);
  }, DEADLINE_MS);
  deadline.unref();
  let context: ReturnType<typeof lazyContext> | undefined;
  try {
    if (!(HOOK_EVENTS as readonly string[]).includes(event)) {
      process.stderr.write(
        `task-orchestrator hook: unknown event "${event}" (known: ${HOOK_EVENTS.join(', ')})\n`,
      );
      return;
    }
    if (process.env.TASK_ORCHESTRATOR_HOOKS?.trim().toLowerCase() === 'off') return;
    let text: string;
    try {
      text = await readStdin();
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
    const projectDir = hookProjectDir(process.env, typeof input.cwd === 'string' ? input.cwd : undefined);
    stateDir = path.resolve(projectDir, process.env.TASK_ORCHESTRATOR_HOME?.trim() || '.task-orchestrator');
    const reply = await askServer(stateDir, event, text, WARM_WAIT_MS);
    if (reply) {
      let parsed: { output?: HookOutput | null; error?: string } | undefined;
      try {
        parsed = JSON.parse(reply) as { output?: HookOutput | null; error?: string };
      } catch {
        parsed = undefined;
      }
      if (parsed?.error) {
        note(stateDir, event, `server: ${parsed.error}`);
        if (guarding) answer(guardDownOutput(parsed.error));
        return;
      }
      if (parsed) {
        if (parsed.output) answer(parsed.output);
        return;
      }
    }
    // No server: this process does the work. A server that took the event but did not answer in
    // time may still record it, so only the guard (which records nothing) answers here then.
    if (reply !== undefined) {
      note(
        stateDir,
        event,
        `the server did not answer within ${WARM_WAIT_MS} ms${guarding ? '; answering here' : ''}`,
      );
      if (!guarding) return;
    }
    const { loadConfig } = await import('../../config/config.js');
    // Never the claude CLI as a judge from inside Claude Code's own hook.
    const config = loadConfig({ ...process.env, TASK_ORCHESTRATOR_CLAUDE_CLI: 'off' }, { cwd: projectDir });
    stateDir = config.stateDir;
    if (!config.hooks) return;
    const { createRedactor } = await import('../../safety/redact.js');
    context = lazyContext(
      config,
      createRedactor({ secrets: config.secrets, patterns: config.redactPatterns }),
    );
    const { handleHook } = await import('../../hooks/handlers.js');
    answer(await handleHook(event as HookEventName, input, context));
  } catch (error) {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    note(stateDir, event, message);
    if (guarding) answer(guardDownOutput(message));
  } finally {
    await context?.close();
    clearTimeout(deadline);
    process.exitCode = 0;
  }
}
