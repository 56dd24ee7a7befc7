/**
 * `hook <event>`: Claude Code's hook handler. Reads the event (JSON on stdin), answers in Claude
 * Code's hook format on stdout, and never breaks Claude Code: on any error, a bad event or the
 * deadline it exits 0 with no decision and notes why in `<state>/hooks.log`. Everything is
 * imported when needed, so a hook that has nothing to do costs little more than starting node.
 */
import { appendFileSync, existsSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Config } from '../../config/config.js';
import type { Storage } from '../../storage/storage.js';
import { HOOK_EVENTS, parseHookInput } from '../../hooks/events.js';
import type { HookEventName, HookOutput } from '../../hooks/events.js';
import type { HookContext } from '../../hooks/handlers.js';

/** Claude Code waits up to the hook's timeout (15 s in hooks.json); give up well before. */
const DEADLINE_MS = 8_000;
const MAX_INPUT_BYTES = 4 * 1024 * 1024;

function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    process.stdin.on('data', (d: Buffer) => {
      size += d.length;
      if (size > MAX_INPUT_BYTES) reject(new Error(`event larger than ${MAX_INPUT_BYTES} bytes`));
      else chunks.push(d);
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
    // Refused or stale before connecting: do it here. After connecting: no decision (fail open).
    socket.on('error', () => resolve(connected ? '' : undefined));
    socket.on('timeout', () => {
      socket.destroy();
      resolve('');
    });
  });
}

/** The handlers' dependencies, each opened on first use. */
function lazyContext(config: Config): HookContext & { close(): Promise<void> } {
  let storage: Promise<Storage> | undefined;
  const once = <T>(make: () => Promise<T>) => {
    let made: Promise<T> | undefined;
    return () => (made ??= make());
  };
  const clock = { now: () => Date.now() };
  const openStore = () =>
    (storage ??= (async () => {
      const [{ openStorage }, { createRedactor }, { createLogger }] = await Promise.all([
        import('../../storage/storage.js'),
        import('../../safety/redact.js'),
        import('../../core/logger.js'),
      ]);
      const redact = createRedactor({ secrets: config.secrets, patterns: config.redactPatterns });
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
    return OperationClassifier.load(config.dataDir, config.stateDir);
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
    classify: async (command) => (await classifier()).classify(command),
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
  let stateDir: string | undefined;
  const deadline = setTimeout(() => {
    note(stateDir, event, `gave up after ${DEADLINE_MS} ms (no decision)`);
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
    const text = await readStdin();
    const input = parseHookInput(text);
    if (!input) return;
    if (process.env.TASK_ORCHESTRATOR_HOOKS?.trim().toLowerCase() === 'off') return;
    // The state folder as the config resolves it, without loading the config: the warm path first.
    const cwd = typeof input.cwd === 'string' ? input.cwd : process.cwd();
    stateDir = path.resolve(cwd, process.env.TASK_ORCHESTRATOR_HOME?.trim() || '.task-orchestrator');
    const reply = await askServer(stateDir, event, text, DEADLINE_MS - 1_000);
    if (reply !== undefined) {
      const answer = reply.trim()
        ? (JSON.parse(reply) as { output?: HookOutput | null; error?: string })
        : {};
      if (answer.error) note(stateDir, event, `server: ${answer.error}`);
      if (answer.output) process.stdout.write(`${JSON.stringify(answer.output)}\n`);
      return;
    }
    const { loadConfig } = await import('../../config/config.js');
    // Never the claude CLI as a judge from inside Claude Code's own hook.
    const config = loadConfig({ ...process.env, TASK_ORCHESTRATOR_CLAUDE_CLI: 'off' }, { cwd });
    stateDir = config.stateDir;
    if (!config.hooks) return;
    context = lazyContext(config);
    const { handleHook } = await import('../../hooks/handlers.js');
    const out: HookOutput = await handleHook(event as HookEventName, input, context);
    if (out) process.stdout.write(`${JSON.stringify(out)}\n`);
  } catch (error) {
    note(stateDir, event, error instanceof Error ? `${error.name}: ${error.message}` : String(error));
  } finally {
    await context?.close();
    clearTimeout(deadline);
    process.exitCode = 0;
  }
}
