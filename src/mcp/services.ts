/**
 * What tools and transports get: the process-wide services. Built by the composition root
 * (src/app/services.ts); this file only names them, so the protocol layer knows no constructor.
 */
import type { AgentRunDeps } from '../agents/agentRun.js';
import type { CommandRunner } from '../safety/commandRunner.js';
import type { Redactor } from '../safety/redact.js';
import type { ExecBoundary } from '../safety/exec.js';
import type { Inbox } from '../safety/inbox.js';
import type { OperationClassifier } from '../safety/classifier.js';
import type { WorkerRegistry } from '../agents/workers.js';
import type { Scheduler } from '../workflows/scheduler.js';
import type { SpawnPipeline } from '../agents/spawn.js';
import type { BudgetGuard } from '../cost/budget.js';
import type { Pricing } from '../cost/pricing.js';
import type { UsageRecord } from '../cost/usage.js';
import type { GradedRunDeps } from '../spawning/gradedRun.js';
import type { Federation } from '../immune/federation/federation.js';
import type { ImmuneSystem } from '../immune/immuneSystem.js';
import type { AlertEngine } from '../immune/alerting/alerts.js';
import type { Predictor } from '../immune/prediction/predictor.js';
import type { TrainingRow } from '../immune/prediction/dataset.js';
import type { Tracer } from '../evaluation/tracing.js';
import type { TrialStore } from '../evaluation/trials.js';
import type { CaseBook } from '../evaluation/cases.js';
import type { EvalRunner } from '../evaluation/suites/runner.js';
import type { BreakerRegistry } from '../healing/breakers.js';
import type { AppendLog } from '../storage/appendLog.js';
import type { AuditLog } from '../safety/auditLog.js';
import type { Config } from '../config/config.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { TaskService } from '../tasks/taskService.js';
import type { TemplateCatalog } from '../tasks/templates.js';
import type { Storage } from '../storage/storage.js';
import type { ClaimBook } from '../tasks/claims.js';
import type { Supervisor } from '../runs/supervisor/supervisor.js';
import type { PlanningDeps } from '../runs/planning.js';

/** Long-lived, process-wide dependencies the tools use. Built once by the composition root. */
export interface Services {
  config: Config;
  logger: Logger;
  clock: Clock;
  storage: Storage;
  /** Changes any server committed, when the stores announce them (a database); else undefined. */
  changes: ((listener: () => void) => () => void) | undefined;
  audit: AuditLog;
  tasks: TaskService;
  /** Who is working on which task, across sessions and processes (leases). */
  claims: ClaimBook;
  /** Supervisor runs: task graphs carried out by workers (or the caller), reviewed and synthesised. */
  runs: Supervisor;
  /** What planning with a model needs (leader calls, checks of a plan). */
  planning: PlanningDeps;
  spawn: SpawnPipeline;
  agentRun: AgentRunDeps;
  trials: TrialStore;
  /** Outcomes per prompt and model: which prompts are flaky. */
  cases: CaseBook;
  /** Evaluation suites run across models (runs, cells, baselines). */
  evals: EvalRunner;
  graded: GradedRunDeps;
  tracer: Tracer;
  immune: ImmuneSystem;
  breakers: BreakerRegistry;
  budget: BudgetGuard;
  pricing: Pricing;
  usage: AppendLog<UsageRecord>;
  /** Built-in and project templates, read fresh each call (files may change). */
  templates: () => Promise<TemplateCatalog>;
  /** Subscriptions, search and sync with the federation hub (when one is configured). */
  federation: Federation;
  /** Classifies operations before anything runs. */
  classifier: OperationClassifier;
  /** Requests waiting for a human's approval. */
  inbox: Inbox;
  /** Runs allowed commands (or dry-runs them) after classification and the command policy. */
  commands: CommandRunner;
  /** The exec boundary every program starts through. */
  exec: ExecBoundary;
  /** The secret redactor every sink applies (state files, logs, traces, results, exports, alerts). */
  redact: Redactor;
  /** Interview profiles and trust of models. */
  workers: WorkerRegistry;
  /** Persistent scheduled jobs, run by the process holding the lease. */
  scheduler: Scheduler;
  /** Alert rules, history and notifiers. */
  alerts: AlertEngine;
  /** The failure predictor (random forest), trained in a worker thread. */
  predictor: Predictor;
  /** This project's trials as predictor training rows (provider errors left out), of one source if given. */
  trialRows(source?: string): Promise<TrainingRow[]>;
  /** Starts the scheduled jobs (sync with the hub, decay, retention); the serve command calls it. */
  startBackground(): void;
  /** Deletes trial and usage segments past the retention (TASK_ORCHESTRATOR_RETENTION_DAYS). */
  applyRetention(): Promise<number>;
  /**
   * Owns all teardown: stops scheduled jobs and the predictor's worker, waits for alert
   * deliveries, flushes traces, stops the breakers' timers, closes the hub, flushes storage.
   * Safe to call more than once (the second call waits for the first).
   */
  close(): Promise<void>;
}
