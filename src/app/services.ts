/**
 * The composition root: the one place that knows every subsystem. It opens the state folder,
 * builds each service from config and wires them together; close() owns all teardown.
 */
import { createAgentRunDeps } from '../agents/agentRun.js';
import { loadArchetypes } from '../agents/archetypes.js';
import { createAuditLog } from '../safety/auditLog.js';
import { CommandRunner } from '../safety/commandRunner.js';
import { CommandPolicy } from '../safety/commandPolicy.js';
import { createExecBoundary } from '../safety/exec.js';
import { createRedactor, redactDeep } from '../safety/redact.js';
import type { ExecBoundary } from '../safety/exec.js';
import { EMPTY_INBOX, Inbox } from '../safety/inbox.js';
import type { InboxDoc } from '../safety/inbox.js';
import { OperationClassifier } from '../safety/classifier.js';
import { EMPTY_WORKERS, WorkerRegistry } from '../agents/workers.js';
import type { WorkerDoc } from '../agents/workers.js';
import { EMPTY_SCHEDULE, Scheduler } from '../workflows/scheduler.js';
import { ClaimBook, processOwner } from '../tasks/claims.js';
import { Supervisor } from '../runs/supervisor/supervisor.js';
import { EMPTY_CACHE, EMPTY_RUNS } from '../runs/runModel.js';
import type { CacheDoc, RunDoc } from '../runs/runModel.js';
import type { PlanningDeps } from '../runs/planning.js';
import type { ScheduleDoc } from '../workflows/scheduler.js';
import { gradedRun, memoryGuard } from '../spawning/gradedRun.js';
import { createProviders } from '../agents/providers/index.js';
import type { ProviderName } from '../agents/providers/types.js';
import { SpawnPipeline } from '../agents/spawn.js';
import type { ConfiguredProvider } from '../agents/spawn.js';
import { BudgetGuard, EMPTY_BUDGETS } from '../cost/budget.js';
import type { BudgetDoc } from '../cost/budget.js';
import { loadPricing } from '../cost/pricing.js';
import type { UsageRecord } from '../cost/usage.js';
import type { GradedRunDeps } from '../spawning/gradedRun.js';
import { Judge } from '../evaluation/graders/judge.js';
import type { JudgeTarget } from '../evaluation/graders/judge.js';
import { EMPTY_SYNC, Federation } from '../immune/federation/federation.js';
import type { SyncDoc } from '../immune/federation/federation.js';
import { FolderHub } from '../immune/federation/federationHub.js';
import type { FederationHub } from '../immune/federation/federationHub.js';
import { ImmuneSystem } from '../immune/immuneSystem.js';
import { SemanticStage } from '../immune/semantic.js';
import { spawnEmbedder } from '../spawning/embeddings.js';
import type { StoredVector } from '../immune/semantic.js';
import { sameTaskJudge } from '../spawning/sameTask.js';
import { EMPTY_EVAL_RUNS, EvalRunner } from '../evaluation/suites/runner.js';
import type { EvalCell, EvalRunDoc } from '../evaluation/suites/runner.js';
import { AlertEngine, EMPTY_ALERTS } from '../immune/alerting/alerts.js';
import type { AlertDoc } from '../immune/alerting/alerts.js';
import { ConsoleNotifier, SlackNotifier, WebhookNotifier } from '../immune/alerting/notifiers.js';
import type { Notifier } from '../immune/alerting/notifiers.js';
import { Predictor } from '../immune/prediction/predictor.js';
import type { TrainingRow } from '../immune/prediction/dataset.js';
import { createTracer } from '../evaluation/tracing.js';
import { TrialStore } from '../evaluation/trials.js';
import { CaseBook, EMPTY_CASES } from '../evaluation/cases.js';
import type { CaseDoc } from '../evaluation/cases.js';
import type { Trial } from '../evaluation/trials.js';
import { BreakerRegistry } from '../healing/breakers.js';
import type { BreakerDoc } from '../healing/breakers.js';
import type { Config } from '../config/config.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { openStorage } from '../storage/storage.js';
import { TaskService } from '../tasks/taskService.js';
import { loadTemplates } from '../tasks/templates.js';

import type { Services } from '../mcp/services.js';

/** Opens the state folder and builds the process-wide services from config. */
export interface ServiceOverrides {
  /** Replaces the process boundary commands run through (tests spy on it). */
  execBoundary?: ExecBoundary;
}

export async function openServices(
  config: Config,
  logger: Logger,
  clock: Clock,
  overrides: ServiceOverrides = {},
): Promise<Services> {
  const redact = createRedactor({ secrets: config.secrets, patterns: config.redactPatterns });
  const storage = await openStorage({
    stateDir: config.stateDir,
    logger,
    redact,
    ...(config.databaseUrl ? { database: { url: config.databaseUrl, project: config.projectName } } : {}),
  });
  const classifier = await OperationClassifier.load(config.dataDir, config.stateDir, {
    projectDir: config.projectDir,
    cliPath: config.cliPath,
  });
  const policy = await CommandPolicy.load(config.dataDir, config.stateDir, {
    projectDir: config.projectDir,
    stateDir: config.stateDir,
    gatePrograms: config.gateCommands,
    commandPrograms: config.commands,
  });
  const boundary = overrides.execBoundary ?? createExecBoundary({ env: config.childEnv });
  const commands = new CommandRunner({
    classifier,
    policy,
    boundary,
    execute: config.execute,
    projectDir: config.projectDir,
    stateDir: config.stateDir,
    maxOutputBytes: 1_048_576,
  });
  const tasks = new TaskService({
    gates: {
      vet: async (gate) => void (await commands.vet(gate.command, gate.args, 'gate')),
      run: (gate, signal) => commands.runGate(gate, signal),
    },
    storage,
    logger,
    clock,
    projectDir: config.projectDir,
    artifactQuotaBytes: config.artifactQuotaBytes,
  });
  const breakers = new BreakerRegistry(
    storage.document<BreakerDoc>('breakers', { breakers: {} }),
    clock,
    logger,
    { resetTimeoutMs: config.breakerResetMs },
  );
  await breakers.load();
  const budget = new BudgetGuard(storage.document<BudgetDoc>('budgets', EMPTY_BUDGETS), clock);
  const pricing = await loadPricing(config.dataDir, config.stateDir);
  const usage = storage.log<UsageRecord>('usage');
  const providers = new Map<ProviderName, ConfiguredProvider>(
    createProviders(config.providers, { boundary, cwd: config.projectDir }).map((provider, i) => [
      provider.name,
      {
        provider,
        defaultModel: config.providers[i]!.model,
        catalogue: config.providers[i]!.name !== 'claude-code' && !config.providers[i]!.baseUrl,
      },
    ]),
  );
  const archetypes = await loadArchetypes(config.dataDir, config.stateDir);
  const spawn = new SpawnPipeline({
    providers,
    breakers,
    budget,
    pricing,
    usage,
    clock,
    logger,
    retry: { baseMs: config.retryBaseMs, capMs: 60_000, maxRetries: config.retryMax },
  });
  const workers = new WorkerRegistry(storage.document<WorkerDoc>('workers', EMPTY_WORKERS), clock);
  const agentRun = createAgentRunDeps(spawn, tasks, archetypes, workers);
  const trials = new TrialStore(storage.log<Trial>('trials'), clock);
  const cases = new CaseBook(storage.document<CaseDoc>('cases', EMPTY_CASES), clock);
  const tracer = createTracer(config.langfuse, logger, redact);
  const judge =
    providers.size > 0
      ? new Judge({
          spawn,
          ...(config.judgeModel ? { defaultJudge: judgeTarget(config.judgeModel) } : {}),
        })
      : undefined;
  const immune = new ImmuneSystem(storage, clock, {
    blockThreshold: config.immuneBlockRisk,
    blockAfter: config.immuneBlockAfter,
    shareByDefault: config.federationShare,
    ...(config.embeddingModel
      ? {
          semantic: new SemanticStage(
            spawnEmbedder(spawn, config.embeddingModel.provider, config.embeddingModel.model),
            storage.log<StoredVector>('embeddings'),
            () => clock.now(),
          ),
        }
      : {}),
    // Claude Code's own failures (from its hooks) stay on this machine unless judges may see them.
    ...(config.hookGrade !== 'judges'
      ? { keepLocal: (p: { source?: string }) => p.source === 'claude_code' }
      : {}),
    ...(config.immuneSameTaskJudge && judge
      ? { sameTask: sameTaskJudge(spawn, () => judge.target(undefined)) }
      : {}),
  });
  const inbox = new Inbox(storage.document<InboxDoc>('inbox', EMPTY_INBOX), clock, config.approvalTtlS);
  const notifiers: Notifier[] = [new ConsoleNotifier(logger, clock)];
  if (config.alerts.webhookUrl)
    notifiers.push(
      new WebhookNotifier(config.alerts.webhookUrl, config.alerts.webhookSecret, config.projectName, clock, {
        backoffMs: config.retryBaseMs,
      }),
    );
  if (config.alerts.slackUrl)
    notifiers.push(
      new SlackNotifier(config.alerts.slackUrl, config.projectName, clock, { backoffMs: config.retryBaseMs }),
    );
  // Alerts quote prompts and errors: every channel gets them redacted.
  const redactedNotifiers: Notifier[] = notifiers.map((n) => ({
    channel: n.channel,
    send: (alert) => n.send(redactDeep(alert, redact)),
  }));
  const alerts = new AlertEngine(
    storage.document<AlertDoc>('alerts', EMPTY_ALERTS),
    redactedNotifiers,
    config.alerts,
    clock,
    logger,
  );
  const trialRows = async (source?: string): Promise<TrainingRow[]> =>
    (await trials.list({ limit: Number.MAX_SAFE_INTEGER, source })).items
      .filter((t) => t.failure_type !== 'provider_error')
      .reverse()
      .map((t) => ({ text: t.prompt, tool: t.operation, label: t.pass ? 0 : 1 }));
  const predictor = new Predictor({
    stateDir: config.stateDir,
    shippedDir: config.modelsDir,
    clock,
    logger,
    retrainEvery: config.retrainEvery,
    trialRows,
  });
  const hub: FederationHub | undefined =
    config.federationInDatabase && config.databaseUrl
      ? await FolderHub.onDatabase(config.databaseUrl, config.stateDir, logger)
      : config.federationDir
        ? await FolderHub.open(config.federationDir, logger)
        : undefined;
  const federation = new Federation({
    immune,
    hub,
    doc: storage.document<SyncDoc>('sync', EMPTY_SYNC),
    project: { name: config.projectName, path: config.projectDir },
    clock,
    logger,
    syncIntervalS: config.syncIntervalS,
  });
  const graded: GradedRunDeps = {
    agents: agentRun,
    trials,
    breakers,
    judge,
    judgeGraders: config.judgeGraders,
    cases,
    tracer,
    // Off: spawns neither check nor teach the memory (its tools still answer).
    immune: config.immune ? immune : undefined,
    predictor,
    alerts,
  };
  const evals = new EvalRunner({
    spawn,
    judge,
    schemas: agentRun.schemas,
    trials,
    runs: storage.document<EvalRunDoc>('eval-runs', EMPTY_EVAL_RUNS),
    cells: storage.log<EvalCell>('eval-cells'),
    clock,
    logger,
    owner: processOwner(),
    ...(config.immune ? { memory: memoryGuard({ immune, predictor, cases }) } : {}),
  });
  const claims = new ClaimBook(storage.leases('claims'), clock, processOwner());
  claims.start();
  const runs = new Supervisor({
    tasks,
    graded,
    spawn,
    workers,
    archetypes,
    inbox,
    claims,
    pricing,
    clock,
    logger,
    runs: storage.document<RunDoc>('runs', EMPTY_RUNS),
    cache: storage.document<CacheDoc>('run-cache', EMPTY_CACHE),
    interviewFirst: config.runInterview,
  });
  const planning: PlanningDeps = {
    graded,
    schemas: agentRun.schemas,
    archetypes: [...archetypes.keys()],
    vetGate: async (gate) => void (await commands.vet(gate.command, gate.args, 'gate')),
  };
  const scheduler = new Scheduler(
    storage.document<ScheduleDoc>('schedule', EMPTY_SCHEDULE),
    clock,
    logger,
    async (job) => {
      const actor = `scheduler (${job.created_by})`;
      if (job.kind === 'command' && job.command) {
        const r = await commands.run({ ...job.command, timeoutS: job.command.timeout_s, actor }, undefined);
        const ok = r.status === 'executed' ? r.result?.exit_code === 0 : r.status === 'dry_run';
        return { ok, status: r.status, message: r.message };
      }
      const s = job.spawn!;
      const r = await gradedRun(
        graded,
        {
          prompt: s.prompt,
          provider: s.provider as ProviderName | undefined,
          model: s.model,
          archetype: s.archetype,
          operation: `schedule:${job.name}`,
        },
        { actor },
      ).catch((error: unknown) => error as Error);
      return r instanceof Error
        ? { ok: false, status: 'failed', message: r.message }
        : { ok: r.evaluation.pass, status: 'spawned', message: `trial ${r.trial_id}` };
    },
    config.maxScheduledJobs,
  );
  const timers: NodeJS.Timeout[] = [];
  let closing: Promise<void> | undefined;
  /** Runs `job` every `seconds`, one run at a time, never keeping the process alive. */
  const every = (seconds: number, name: string, job: () => Promise<unknown>) => {
    if (seconds <= 0) return;
    let running = false;
    const timer = setInterval(() => {
      if (running) return;
      running = true;
      job()
        .catch((error: unknown) => logger.warn(`scheduled ${name} failed`, { error }))
        .finally(() => (running = false));
    }, seconds * 1000);
    timer.unref();
    timers.push(timer);
  };
  const applyRetention = async (): Promise<number> => {
    if (config.retentionDays <= 0) return 0;
    const before = clock.now() - config.retentionDays * 86_400_000;
    const removed = (await trials.prune(before)) + (await usage.prune(before));
    if (removed > 0)
      logger.info('retention: removed old log segments', { removed, days: config.retentionDays });
    return removed;
  };
  const onChange = storage.onChange;
  return {
    config,
    logger,
    clock,
    storage,
    changes: onChange ? (listener) => onChange(() => listener()) : undefined,
    audit: createAuditLog(storage, clock),
    tasks,
    claims,
    runs,
    planning,
    spawn,
    agentRun,
    trials,
    cases,
    evals,
    graded,
    tracer,
    immune,
    breakers,
    budget,
    pricing,
    usage,
    templates: () => loadTemplates(config.dataDir, config.stateDir),
    federation,
    predictor,
    alerts,
    classifier,
    inbox,
    commands,
    exec: boundary,
    redact,
    workers,
    scheduler,
    trialRows,
    applyRetention,
    startBackground() {
      scheduler.start();
      if (config.runAutoResume) runs.startAutoResume();
      void applyRetention().catch((error: unknown) => logger.warn('retention failed', { error }));
      every(6 * 3600, 'retention', applyRetention);
      every(config.decayIntervalS, 'decay', () => immune.decay(true));
      if (hub) every(config.syncIntervalS, 'sync', () => federation.sync('both', 'schedule'));
    },
    close() {
      closing ??= (async () => {
        for (const t of timers.splice(0)) clearInterval(t);
        await runs.close();
        await evals.close();
        claims.stop();
        await scheduler.stop();
        await predictor.close();
        await alerts.idle();
        await tracer.shutdown();
        breakers.shutdown();
        await hub?.close();
        await storage.close();
      })();
      return closing;
    },
  };
}

function judgeTarget(spec: string): JudgeTarget {
  const [provider, ...model] = spec.split('/');
  return { provider: provider as ProviderName, ...(model.length ? { model: model.join('/') } : {}) };
}
