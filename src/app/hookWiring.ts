/**
 * The two ways a hook event gets its context (hooks/context.ts): from the running server's
 * services (the warm path, on the hook socket), or opened piece by piece in the hook's own process
 * (the cold path), importing each module only when an event needs it. Wiring only.
 */
import type { Config } from '../config/config.js';
import type { Clock } from '../core/clock.js';
import { createHookContext } from '../hooks/context.js';
import type { HookOpeners } from '../hooks/context.js';
import type { HookContext } from '../hooks/handlers.js';
import type { LocalHook } from '../hooks/client.js';
import type { HookGrade } from '../hooks/wire.js';
import type { Services } from '../mcp/services.js';
import type { Redactor } from '../safety/redact.js';
import type { Storage } from '../storage/storage.js';
import type { ImmuneSystem } from '../immune/immuneSystem.js';
import type { AppendStart, IndexedMemory } from '../immune/indexedMemory.js';
import path from 'node:path';

/** The context of one event answered by the running server. */
export function serverHookContext(services: Services, hookGrade: HookGrade): HookContext {
  const open: HookOpeners = {
    storage: () => Promise.resolve(services.storage),
    immune: () => Promise.resolve(services.immune),
    matcher: () => Promise.resolve(services.immune),
    classifier: () => Promise.resolve(services.classifier),
    trials: () => Promise.resolve(services.trials),
    cases: () => Promise.resolve(services.cases),
    tasks: () => Promise.resolve(services.tasks),
    judging: () =>
      Promise.resolve(
        services.graded.judge
          ? {
              judge: services.graded.judge,
              targets: services.spawn.targetsAvailable,
              pricing: services.pricing,
            }
          : undefined,
      ),
  };
  return createHookContext({
    config: services.config,
    hookGrade,
    clock: services.clock,
    redact: services.redact,
    open,
  });
}

/** Caches an opener's result (each piece is opened once per process). */
function once<T>(make: () => Promise<T>): () => Promise<T> {
  let made: Promise<T> | undefined;
  return () => (made ??= make());
}

/** The hook's own process doing the work: each piece opened on first use. */
export async function localHook(
  configEnv: Record<string, string | undefined>,
  projectDir: string,
  note: (message: string) => void,
  readOnly = false,
): Promise<LocalHook> {
  const [{ loadConfig }, { createRedactor }, { systemClock }] = await Promise.all([
    import('../config/config.js'),
    import('../safety/redact.js'),
    import('../core/clock.js'),
  ]);
  const config: Config = loadConfig(configEnv, { cwd: projectDir });
  const redact: Redactor = createRedactor({ secrets: config.secrets, patterns: config.redactPatterns });
  const clock: Clock = systemClock;
  let services: { close(): Promise<void> } | undefined;
  const thresholds = { blockThreshold: config.immuneBlockRisk, blockAfter: config.immuneBlockAfter };
  /** The memory replayed from the log, the match index, and the storage appending from it. */
  let replayed: ImmuneSystem | undefined;
  let indexed: IndexedMemory | undefined;
  let appendStorage: Storage | undefined;
  let storage: Promise<Storage> | undefined;
  // A hook process lives for one event: it hears no other server's changes (no LISTEN).
  const onDatabase = config.databaseUrl
    ? { database: { url: config.databaseUrl, project: config.projectName, listen: false } }
    : {};
  const openStorage = () =>
    (storage ??= (async () => {
      const [{ openStorage: open }, { createLogger }] = await Promise.all([
        import('../storage/storage.js'),
        import('../core/logger.js'),
      ]);
      const logger = createLogger({ level: 'warn', redact, write: (line) => note(line.trim()) });
      return open({
        stateDir: config.stateDir,
        logger,
        redact,
        ...onDatabase,
      });
    })());
  const open: HookOpeners = {
    storage: openStorage,
    immune: once(async () => {
      const { ImmuneSystem } = await import('../immune/immuneSystem.js');
      replayed = new ImmuneSystem(await openStorage(), clock, {
        ...thresholds,
        shareByDefault: config.federationShare,
        matchIndex: false,
      });
      return replayed;
    }),
    // The match index answers without replaying the log; without one that matches the log, the
    // memory itself (which then writes a fresh index when the hook is done).
    matcher: async () => {
      const { IndexedMemory } = await import('../immune/indexedMemory.js');
      // Appends start at the index, in a storage of its own: if this process also replays the
      // memory (open.immune), that store starts at the beginning of the log.
      const appender = async (start: AppendStart) => {
        const [{ ImmuneSystem }, { openStorage: openOwn }, { createLogger }] = await Promise.all([
          import('../immune/immuneSystem.js'),
          import('../storage/storage.js'),
          import('../core/logger.js'),
        ]);
        appendStorage = await openOwn({
          stateDir: config.stateDir,
          logger: createLogger({ level: 'warn', redact, write: (line) => note(line.trim()) }),
          redact,
          ...onDatabase,
        });
        return new ImmuneSystem(appendStorage, clock, { ...thresholds, start, matchIndex: false });
      };
      let memory: IndexedMemory | undefined;
      if (config.databaseUrl) {
        // The index a process that held the whole memory left in this state folder, brought up to
        // the database with the events written since (one query).
        const storage = await openStorage();
        const from = storage.eventsFrom;
        if (from)
          memory = await IndexedMemory.following(
            storage.eventsDir('immune'),
            (seq, limit) => from('immune', seq, limit),
            thresholds,
            () => clock.now(),
            appender,
          );
      } else {
        memory = IndexedMemory.open(
          path.join(config.stateDir, 'events', 'immune'),
          thresholds,
          () => clock.now(),
          appender,
        );
      }
      if (!memory) return open.immune();
      indexed = memory;
      return memory;
    },
    classifier: once(async () => {
      const { OperationClassifier } = await import('../safety/classifier.js');
      // The grammar loads only for a command that is not plain (most are).
      return OperationClassifier.load(config.dataDir, config.stateDir, {
        projectDir: config.projectDir,
        cliPath: config.cliPath,
        grammar: 'when-needed',
      });
    }),
    trials: once(async () => {
      const { TrialStore } = await import('../evaluation/trials.js');
      return new TrialStore((await openStorage()).log('trials'), clock);
    }),
    cases: once(async () => {
      const { CaseBook, EMPTY_CASES } = await import('../evaluation/cases.js');
      return new CaseBook((await openStorage()).document('cases', EMPTY_CASES), clock);
    }),
    tasks: once(async () => {
      const [{ TaskService }, { createLogger }] = await Promise.all([
        import('../tasks/taskService.js'),
        import('../core/logger.js'),
      ]);
      const refuse = () => Promise.reject(new Error('hooks do not run gates'));
      return new TaskService({
        storage: await openStorage(),
        logger: createLogger({ level: 'error', write: () => undefined }),
        clock,
        projectDir: config.projectDir,
        gates: { vet: refuse, run: refuse },
      });
    }),
    judging: once(async () => {
      // Judges go through the full pipeline (budget, breakers): open the services for them.
      if (!config.providers.some((p) => p.name !== 'claude-code')) return undefined;
      const [{ openServices }, { createLogger }] = await Promise.all([
        import('./services.js'),
        import('../core/logger.js'),
      ]);
      const full = await openServices(
        config,
        createLogger({ level: 'warn', write: (line) => note(line.trim()) }),
        clock,
      );
      services = full;
      return full.graded.judge
        ? { judge: full.graded.judge, targets: full.spawn.targetsAvailable, pricing: full.pricing }
        : undefined;
    }),
  };
  return {
    stateDir: config.stateDir,
    enabled: config.hooks,
    context: () => createHookContext({ config, hookGrade: config.hookGrade, clock, redact, open, readOnly }),
    async close() {
      indexed?.close();
      await appendStorage?.close().catch(() => undefined);
      // This process replayed the log: the next one maps the index instead (a read-only hook
      // leaves the memory's folder as it found it).
      if (replayed && !readOnly)
        await replayed.writeMatchIndex().catch((e: unknown) => note(`match index: ${String(e)}`));
      await services?.close().catch(() => undefined);
      if (storage) await (await storage).close().catch(() => undefined);
    },
  };
}
