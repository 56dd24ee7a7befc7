/**
 * The one hook context: what the handlers may use, built from openers that either hand out the
 * running server's services (the warm path, hooks/socketServer.ts) or open each piece on first
 * use in the hook's own process (the cold path, hooks/client.ts). Grading is written once here,
 * for both.
 */
import type { Config } from '../config/config.js';
import type { Clock } from '../core/clock.js';
import type { CaseBook } from '../evaluation/cases.js';
import type { Judge } from '../evaluation/graders/judge.js';
import type { TrialStore } from '../evaluation/trials.js';
import type { ImmuneSystem } from '../immune/immuneSystem.js';
import type { Pricing } from '../cost/pricing.js';
import type { ProviderName } from '../agents/providers/types.js';
import type { OperationClassifier } from '../safety/classifier.js';
import type { Redactor } from '../safety/redact.js';
import type { Storage } from '../storage/storage.js';
import type { TaskService } from '../tasks/taskService.js';
import type { SchemaCache } from '../core/jsonSchema.js';
import { EMPTY_HOOK_SESSIONS } from './sessions.js';
import type { HookContext, HookMatcher } from './handlers.js';

/** What judges need, when a hook may use them (the environment's API providers). */
export interface HookJudging {
  judge: Judge;
  /** Providers a judge may run on. */
  targets: ReadonlyArray<{ name: ProviderName; defaultModel: string; catalogue: boolean }>;
  pricing: Pricing;
}

/** Each piece the handlers use, opened when first asked for. */
export interface HookOpeners {
  storage: () => Promise<Storage>;
  immune: () => Promise<ImmuneSystem>;
  /** Checks and records checks (the memory, or its match index in a hook process). */
  matcher: () => Promise<HookMatcher>;
  classifier: () => Promise<OperationClassifier>;
  trials: () => Promise<TrialStore>;
  cases: () => Promise<CaseBook>;
  tasks: () => Promise<Pick<TaskService, 'next'>>;
  /** Judges for the Stop grade; undefined when no API provider can judge. */
  judging: () => Promise<HookJudging | undefined>;
}

export interface HookContextOptions {
  config: Config;
  /** on (code graders), judges (also LLM judges on an API provider), off. */
  hookGrade: Config['hookGrade'];
  clock: Clock;
  redact: Redactor;
  open: HookOpeners;
  /** Answer, record nothing (see HookSettings.readOnly). */
  readOnly?: boolean;
}

/** Caches an opener's result (each piece is opened once per context). */
function once<T>(make: () => Promise<T>): () => Promise<T> {
  let made: Promise<T> | undefined;
  return () => (made ??= make());
}

export function createHookContext(options: HookContextOptions): HookContext {
  const { config, hookGrade, clock, redact, open } = options;
  let schemas: SchemaCache | undefined;
  return {
    config: { ...config, hookGrade },
    readOnly: options.readOnly ?? false,
    now: () => new Date(clock.now()).toISOString(),
    redact,
    immune: once(open.immune),
    matcher: once(open.matcher),
    classifier: once(open.classifier),
    trials: once(open.trials),
    cases: once(open.cases),
    sessions: once(async () => (await open.storage()).document('hook-sessions', EMPTY_HOOK_SESSIONS)),
    async readyTasks(limit) {
      return (await (await open.tasks()).next({}))
        .slice(0, limit)
        .map((n) => ({ id: n.task.id, title: n.task.title, priority: n.task.priority }));
    },
    async grade(prompt, output) {
      // Imported here: most hook events never grade, and these modules cost a cold hook time.
      const [{ gradeAsync }, { defaultGraders }, { SchemaCache }, { selectJudge }] = await Promise.all([
        import('../evaluation/graders/pipeline.js'),
        import('../spawning/gradedRun.js'),
        import('../core/jsonSchema.js'),
        import('../agents/modelSelection.js'),
      ]);
      schemas ??= new SchemaCache();
      // Judges send the answer to a provider: only when asked for (privacy by default), on an API
      // provider, never the claude CLI from inside Claude Code's own hook.
      const judging =
        hookGrade === 'judges' && config.judgeGraders !== 'off' ? await open.judging() : undefined;
      const target = judging
        ? selectJudge(
            judging.targets.filter((t) => t.name !== 'claude-code'),
            judging.pricing,
            { provider: 'claude-code', model: 'claude-code' },
            clock.now(),
          )
        : undefined;
      const specs = defaultGraders(false, target ? config.judgeGraders : 'off', output).map((s) =>
        target && s.name !== 'non_empty' && s.name !== 'length' && s.name !== 'refusal'
          ? { ...s, judges: [`${target.provider}/${target.model}`] }
          : s,
      );
      return gradeAsync(output, specs, undefined, schemas, {
        ...(target && judging ? { judge: judging.judge } : {}),
        prompt,
      });
    },
  };
}
