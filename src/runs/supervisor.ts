/**
 * Supervisor runs: the leader's task graph carried out by workers.
 *
 *   start -> nodes = the open leaves under a root task, with their dependencies
 *   loop (the process holding the run's lease): ready nodes start up to the concurrency; each is
 *     claimed once (claims.ts), run by the best onboarded worker for its kind (trust, then price)
 *     through the graded pipeline, its answer recorded at once (a resumed run never repeats a
 *     recorded call), reviewed by the leader when the worker is limited or the node critical,
 *     then completed through the task's own gates. A failure is retried with the reasons fed
 *     back, then reassigned to another worker, then blocked with a decision in the inbox for a
 *     human; everything that does not depend on it goes on.
 *   end -> the leader synthesises the children's results and completes the root.
 *
 * Caller mode hands the same nodes, one at a time with their specialist prompt, to the MCP
 * caller (Claude Code or its subagents), who reports back with tasks_complete: the same graders,
 * reviews and gates apply. Everything a model or caller wrote reaches a prompt quoted as data.
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Archetype } from '../agents/archetypes.js';
import type { ProviderName } from '../agents/providers/types.js';
import type { SpawnPipeline } from '../agents/spawn.js';
import { eligible, interviewWorstCost } from '../agents/workers.js';
import type { WorkerProfile, WorkerRegistry } from '../agents/workers.js';
import type { Clock } from '../core/clock.js';
import { isoTime } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { Logger } from '../core/logger.js';
import type { Pricing } from '../cost/pricing.js';
import { grade } from '../evaluation/graders/pipeline.js';
import type { Inbox } from '../safety/inbox.js';
import type { DocumentStore } from '../storage/documentStore.js';
import type { ClaimBook } from '../tasks/claims.js';
import { leaseLive } from '../tasks/claims.js';
import type { CompleteInput } from '../tasks/completion.js';
import { gateViolations } from '../tasks/completion.js';
import { CLOSED } from '../tasks/model.js';
import type { Task } from '../tasks/model.js';
import type { TaskService } from '../tasks/taskService.js';
import { defaultGraders, gradedRun } from './gradedRun.js';
import {
  callerPrompt,
  REVIEW_SCHEMA,
  reviewPrompt,
  synthesisPrompt,
  taskText,
  DEPENDENCY_CHARS,
  DIGEST_CHARS,
  digestPrompt,
  WORKER_SYSTEM,
  workerPrompt,
} from './prompts.js';
import type { GradedRunDeps } from './gradedRun.js';
import {
  CLOSED_NODE,
  criticalPath,
  ENDED_RUN,
  nodeCounts,
  readyNodes,
  RUN_DEFAULTS,
  schedulePreview,
  skipUnreachable,
  trimResult,
} from './runModel.js';
import type { Attempt, CacheDoc, Run, RunDoc, RunNode, RunOptions, RunStatus } from './runModel.js';

export interface SupervisorDeps {
  tasks: TaskService;
  graded: GradedRunDeps;
  spawn: SpawnPipeline;
  workers: WorkerRegistry;
  archetypes: ReadonlyMap<string, Archetype>;
  inbox: Inbox;
  claims: ClaimBook;
  pricing: Pricing;
  clock: Clock;
  logger: Logger;
  runs: DocumentStore<RunDoc>;
  cache: DocumentStore<CacheDoc>;
  /** How often the loop looks at a run waiting for a human or another process (ms). Default 500. */
  pollMs?: number;
  /** A run with no onboarded worker interviews the configured models first unless told not to. */
  interviewFirst?: boolean;
}

export interface StartRequest extends Partial<RunOptions> {
  root: string;
  dry_run: boolean;
  /** With no onboarded worker: interview the configured models first, within the run's budget. */
  interview?: boolean | undefined;
}

/** A model a run would interview before it starts (no onboarded worker yet). */
export interface PlannedInterview {
  worker: string;
  worst_usd: number;
}

export interface Worker {
  id: string;
  provider: ProviderName;
  model: string;
  status: WorkerProfile['status'];
  trust: number;
}

export interface RunPreview {
  run: Run;
  waves: string[][];
  critical_path: string[];
  workers: Record<string, string | null>;
  reviewed: string[];
  estimate_usd: number;
  leader?: string | undefined;
  /** Interviews the run needs first (no onboarded worker yet); their cost is in estimate_usd. */
  interviews: PlannedInterview[];
}

export interface CallerNode {
  run_id: string;
  task: string;
  title: string;
  /** The root's synthesis: complete the root task with the combined result. */
  synthesis: boolean;
  specialist?: string | undefined;
  prompt: string;
  attempt: number;
}

/** Why tasks_run stopped waiting: the run ended, needs a person, or the wait ran out. */
export type WaitOutcome = 'ended' | 'needs_person' | 'wait_s';

export interface RunStatusEvent {
  run: string;
  status: RunStatus;
}

export interface RunEvent {
  run: string;
  done: number;
  total: number;
  message: string;
}

const LEASE_MS = 10_000;
const RESULT_CHARS = 20_000;
/** Answers up to this long are stored as the task's result; longer ones as an artifact file. */
const SHORT_RESULT = 1000;
const RUN_HISTORY = 300;
/** The tag a root gets when its run ended with some subtasks skipped. */
const PARTLY_DONE_TAG = 'partly-done';

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

/**
 * The concurrency of a run driven here: slots are taken synchronously before the claims are
 * written (so the loop and finishing nodes never start more than the concurrency between them),
 * then each is used to launch a node or given back.
 */
interface Slots {
  /** Takes up to `n` free slots; `own`: the caller's node is finishing and counts its slot as free. */
  take(n: number, own?: boolean): number;
  give(k: number): void;
  /** Starts a node in a taken slot. */
  launch(task: string): void;
  /**
   * A node whose answer waits only for its judges makes no worker call: its slot is free for
   * another node meanwhile (`on`), and taken again when the verdict is in (`off`).
   */
  judging(task: string, on: boolean): void;
}

export class Supervisor {
  readonly events = new EventEmitter();
  /** Runs this process drives: `ended` when the loop stops, `done` once its lease is let go too. */
  private readonly active = new Map<
    string,
    { controller: AbortController; done: Promise<void>; ended: Promise<void> }
  >();
  /**
   * The loops this process drives: how many more nodes each may start, and how to start one. A
   * finishing node uses it to start the dependents it made ready in the same write that records it
   * done (one durable write between a step and the next on the critical path, not two).
   */
  private readonly launchers = new Map<string, Slots>();
  private readonly reserved = new Map<string, number>();
  /** Summaries being written, by run/task: dependents starting together share one leader call. */
  private readonly digests = new Map<string, Promise<boolean>>();
  private readonly budgetStop = new Set<string>();
  /**
   * Answers whose code graders passed while their judges are out (run/task): their dependents may
   * start on them meanwhile; `done` settles true once the node is done, false if it is not.
   */
  private readonly provisional = new Map<string, { output: string; done: Promise<boolean> }>();
  /** Dependents started on provisional answers (run/task): aborted and put back if one fails. */
  private readonly speculative = new Map<string, { controller: AbortController; parents: string[] }>();
  private leaseTimer: NodeJS.Timeout | undefined;
  private adoptTimer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: SupervisorDeps) {}

  private now(): string {
    return isoTime(this.deps.clock);
  }

  private get owner(): string {
    return this.deps.claims.owner;
  }

  private runHolder(id: string): string {
    return this.deps.claims.holder(`run:${id}`);
  }

  // ---------------------------------------------------------------- reading

  /** @throws AppError NOT_FOUND */
  async get(id: string): Promise<Run> {
    const run = await this.deps.runs.read((d) => structuredClone(d.runs[id]));
    if (!run)
      throw new AppError('NOT_FOUND', `No run "${id}"`, {
        hint: 'tasks_run_status without run_id lists the runs',
      });
    return run;
  }

  async list(): Promise<Run[]> {
    return this.deps.runs.read((d) =>
      Object.values(structuredClone(d.runs)).sort((a, b) => b.created_at.localeCompare(a.created_at)),
    );
  }

  /**
   * Waits until the run needs a person (a blocked node, its budget), ends, or `ms` pass, whichever
   * comes first, and says which.
   */
  async wait(id: string, ms: number): Promise<WaitOutcome> {
    const outcome = (status: RunStatus): WaitOutcome | undefined =>
      ENDED_RUN.has(status)
        ? 'ended'
        : status === 'waiting_for_human' || status === 'budget_exhausted'
          ? 'needs_person'
          : undefined;
    let stop: (value: WaitOutcome) => void = () => undefined;
    const heard = new Promise<WaitOutcome>((resolve) => (stop = resolve));
    const onStatus = (e: RunStatusEvent) => {
      const o = e.run === id ? outcome(e.status) : undefined;
      if (o) stop(o);
    };
    this.events.on('status', onStatus);
    const timer = new AbortController();
    try {
      const now = outcome((await this.get(id)).status);
      if (now) return now;
      const a = this.active.get(id);
      const ended = a?.ended.then(async () => outcome((await this.get(id)).status) ?? 'wait_s');
      return await Promise.race([
        heard,
        ...(ended ? [ended] : []),
        sleep(ms, timer.signal).then(() => 'wait_s' as const),
      ]);
    } finally {
      timer.abort();
      this.events.off('status', onStatus);
    }
  }

  // ---------------------------------------------------------------- workers

  /** Onboarded workers a node may get, best first (trust, then price). */
  private async candidates(run: Run, node: RunNode, hasSchema: boolean): Promise<Worker[]> {
    const configured = new Set(this.deps.spawn.targetsAvailable.map((t) => t.name as string));
    const full = await this.deps.workers.list();
    const profiles = Object.fromEntries(full.map((p) => [`${p.provider}/${p.model}`, p]));
    const kind = { archetype: node.specialist, structuredOutput: hasSchema };
    return full
      .filter((p) => configured.has(p.provider))
      .filter((p) => !run.options.workers || run.options.workers.includes(`${p.provider}/${p.model}`))
      .filter((p) => !node.excluded.includes(`${p.provider}/${p.model}`))
      .filter((p) => eligible(profiles, p.provider, p.model, kind).ok)
      .map((p) => ({
        id: `${p.provider}/${p.model}`,
        provider: p.provider as ProviderName,
        model: p.model,
        status: p.status,
        trust: p.trust,
      }))
      .sort((a, b) => {
        if (b.trust !== a.trust) return b.trust - a.trust;
        const pa = this.deps.pricing.price(a.provider, a.model);
        const pb = this.deps.pricing.price(b.provider, b.model);
        return pa.input_per_mtok + pa.output_per_mtok - (pb.input_per_mtok + pb.output_per_mtok);
      });
  }

  private leaderOf(run: Pick<Run, 'options'>): { provider?: ProviderName; model?: string } | undefined {
    if (run.options.leader) {
      const [provider, ...model] = run.options.leader.split('/');
      return { provider: provider as ProviderName, ...(model.length ? { model: model.join('/') } : {}) };
    }
    const first = this.deps.spawn.targetsAvailable[0];
    return first ? { provider: first.name, model: first.defaultModel } : undefined;
  }

  // ---------------------------------------------------------------- start

  /**
   * Builds the run over the open leaves under `root`; a dry run returns it without storing.
   * @throws AppError NOT_FOUND, INVALID_INPUT (no subtasks, no onboarded worker), BUDGET_EXCEEDED
   *   (the estimate is over max_cost_usd: refused before any call).
   */
  async start(req: StartRequest, actor: string): Promise<RunPreview> {
    const options: RunOptions = {
      mode: req.mode ?? RUN_DEFAULTS.mode,
      concurrency: req.concurrency ?? RUN_DEFAULTS.concurrency,
      max_cost_usd: req.max_cost_usd,
      retries: req.retries ?? RUN_DEFAULTS.retries,
      review: req.review ?? RUN_DEFAULTS.review,
      cache: req.cache ?? RUN_DEFAULTS.cache,
      max_added: req.max_added ?? RUN_DEFAULTS.max_added,
      max_tokens: req.max_tokens ?? RUN_DEFAULTS.max_tokens,
      leader: req.leader,
      workers: req.workers,
    };
    const rootTask = (await this.deps.tasks.get(req.root)).task;
    const leaves = await this.deps.tasks.read((state) => {
      const out: Task[] = [];
      const stack = [...(state.children.get(rootTask.id) ?? [])];
      while (stack.length) {
        const id = stack.shift()!;
        const kids = state.children.get(id) ?? [];
        if (kids.length) stack.push(...kids);
        else out.push(structuredClone(state.tasks.get(id)!));
      }
      return out;
    });
    if (leaves.length === 0)
      throw new AppError('INVALID_INPUT', `${rootTask.id} has no subtasks to run`, {
        hint: 'Plan it first: tasks_plan {goal, parent} or tasks_expand {task_id}',
      });
    if (CLOSED.has(rootTask.status))
      throw new AppError('CONFLICT', `${rootTask.id} is ${rootTask.status}`, { hint: 'Run an open task' });
    const ids = new Set(leaves.map((t) => t.id));
    const at = this.now();
    const nodes: Record<string, RunNode> = {};
    for (const t of leaves) {
      const done = t.status === 'completed';
      nodes[t.id] = {
        task: t.id,
        title: t.title,
        state: done ? 'done' : CLOSED.has(t.status) ? 'skipped' : 'waiting',
        depends_on: t.depends_on.filter((d) => ids.has(d.task)).map((d) => ({ task: d.task, kind: d.kind })),
        critical: t.priority === 'critical',
        complexity: t.complexity,
        specialist: t.specialist && this.deps.archetypes.has(t.specialist) ? t.specialist : undefined,
        attempts: [],
        excluded: [],
        cost_usd: 0,
        latency_ms: 0,
        ...(done ? { output: trimResult(resultText(t), RESULT_CHARS) } : {}),
        ...(CLOSED.has(t.status) && !done ? { reason: `task is ${t.status}` } : {}),
      };
    }
    const run: Run = {
      id: newId('run', 10),
      root: rootTask.id,
      title: rootTask.title,
      status: 'running',
      options,
      created_by: actor,
      created_at: at,
      updated_at: at,
      spent_usd: 0,
      nodes,
      order: leaves.map((t) => t.id),
      added: 0,
      history: [
        { at, text: `started by ${actor} (${options.mode} mode, concurrency ${options.concurrency})` },
      ],
    };
    // Who would do each node, and what one attempt each could cost at most.
    const workers: Record<string, string | null> = {};
    const reviewed: string[] = [];
    let estimate = 0;
    const leader = this.leaderOf(run);
    let interviews: PlannedInterview[] = [];
    if (options.mode === 'agents') {
      const all = await this.deps.workers.list();
      if (!all.some((p) => p.status !== 'blocked')) {
        interviews = this.plannedInterviews(options, new Set(all.map((p) => `${p.provider}/${p.model}`)));
        const cost = interviews.reduce((sum, i) => sum + i.worst_usd, 0);
        const listed = interviews.map((i) => i.worker).join(', ');
        if (interviews.length === 0)
          throw new AppError('INVALID_INPUT', 'No worker has passed onboarding', {
            hint: all.length
              ? `Every interviewed model is blocked (worker_list says why): re-interview one after fixing it, configure another, or run in caller mode: tasks_run {mode: "caller"}`
              : 'Configure a provider (doctor), or run in caller mode: tasks_run {mode: "caller"}',
          });
        if (!req.dry_run && !(req.interview ?? this.deps.interviewFirst ?? false))
          throw new AppError('INVALID_INPUT', 'No worker has passed onboarding', {
            hint: `tasks_run {interview: true} interviews ${listed} first (at most $${cost.toFixed(4)}, counted in the run's budget); or worker_interview {provider, model} by hand, or caller mode: tasks_run {mode: "caller"}`,
          });
        if (!req.dry_run) return this.interviewThenStart(req, actor, interviews);
        estimate += cost;
      }
      // Before its interviews (a dry run), a node is priced as if the first model to interview passed.
      const assumed = interviews[0] && this.asWorker(interviews[0].worker);
      for (const id of run.order) {
        const node = run.nodes[id]!;
        if (CLOSED_NODE.has(node.state)) continue;
        const t = leaves.find((x) => x.id === id)!;
        const best = (await this.candidates(run, node, t.output_schema !== undefined))[0] ?? assumed;
        workers[id] = best ? `${best.id}${best === assumed ? ' (after its interview)' : ''}` : null;
        if (best) {
          estimate += this.worstCost(
            best.provider,
            best.model,
            taskText(t).length + 1500,
            options.max_tokens,
          );
          if (this.needsReview(run, node, best)) {
            reviewed.push(id);
            if (leader?.provider)
              estimate += this.worstCost(leader.provider, leader.model ?? '', taskText(t).length + 3000, 800);
          }
        }
      }
      if (leader?.provider)
        estimate += this.worstCost(
          leader.provider,
          leader.model ?? '',
          run.order.length * 1200,
          options.max_tokens,
        );
    }
    estimate = Number(estimate.toFixed(6));
    const preview: RunPreview = {
      run,
      waves: schedulePreview(run),
      critical_path: criticalPath(run),
      workers,
      reviewed,
      estimate_usd: estimate,
      ...(leader?.provider ? { leader: `${leader.provider}/${leader.model ?? ''}` } : {}),
      interviews,
    };
    if (options.max_cost_usd !== undefined && estimate > options.max_cost_usd)
      throw new AppError(
        'BUDGET_EXCEEDED',
        `The run could cost up to $${estimate.toFixed(4)} (one attempt per node, reviews and synthesis), over max_cost_usd $${options.max_cost_usd}`,
        {
          hint: 'Nothing was called. Raise max_cost_usd, lower max_tokens, or run part of the tree (a smaller root)',
          details: { estimate_usd: estimate, max_cost_usd: options.max_cost_usd },
        },
      );
    if (req.dry_run) return preview;
    await this.deps.runs.update((d) => {
      // Leased from the first write, so no other process takes it over before this one drives it.
      if (options.mode === 'agents')
        run.lease = { owner: this.owner, expires_at: this.deps.clock.now() + LEASE_MS };
      d.runs[run.id] = run;
      // Keep the document bounded: the oldest finished runs go first.
      const finished = Object.values(d.runs)
        .filter((r) => ENDED_RUN.has(r.status))
        .sort((a, b) => a.created_at.localeCompare(b.created_at));
      while (Object.keys(d.runs).length > 200 && finished.length) delete d.runs[finished.shift()!.id];
    });
    if (options.mode === 'agents') await this.drive(run.id, actor);
    return { ...preview, run: await this.get(run.id) };
  }

  /** The configured models (or the run's `workers`) not interviewed yet, with what each interview may cost. */
  private plannedInterviews(options: RunOptions, interviewed: ReadonlySet<string>): PlannedInterview[] {
    const configured = new Set(this.deps.spawn.targetsAvailable.map((t) => t.name as string));
    const wanted =
      options.workers ?? this.deps.spawn.targetsAvailable.map((t) => `${t.name}/${t.defaultModel}`);
    return [...new Set(wanted)]
      .filter((w) => !interviewed.has(w) && configured.has(w.split('/')[0]!))
      .map((worker) => {
        const { provider, model } = this.asWorker(worker);
        return {
          worker,
          worst_usd: Number(interviewWorstCost(this.deps.pricing, provider, model).toFixed(6)),
        };
      });
  }

  private asWorker(id: string): Worker {
    const [provider, ...model] = id.split('/');
    return { id, provider: provider as ProviderName, model: model.join('/'), status: 'active', trust: 1 };
  }

  /**
   * First use: interviews the planned models (refused before any call when interviews and the
   * run's estimate could pass max_cost_usd together), then starts the run with what they cost
   * already spent.
   */
  private async interviewThenStart(
    req: StartRequest,
    actor: string,
    interviews: PlannedInterview[],
  ): Promise<RunPreview> {
    const worst = interviews.reduce((sum, i) => sum + i.worst_usd, 0);
    if (req.max_cost_usd !== undefined && worst > req.max_cost_usd)
      throw new AppError(
        'BUDGET_EXCEEDED',
        `Interviewing ${interviews.map((i) => i.worker).join(', ')} could cost up to $${worst.toFixed(4)}, over max_cost_usd $${req.max_cost_usd}`,
        { hint: 'Nothing was called. Raise max_cost_usd, or interview one model by hand (worker_interview)' },
      );
    let spent = 0;
    const notes: string[] = [];
    for (const i of interviews) {
      const { provider, model } = this.asWorker(i.worker);
      const profile = await this.deps.workers.interview(this.deps.spawn, provider, model);
      spent += profile.interview_cost_usd ?? 0;
      notes.push(
        `interviewed ${i.worker} before the run: ${profile.status} ($${(profile.interview_cost_usd ?? 0).toFixed(4)})`,
      );
    }
    const preview = await this.start(
      {
        ...req,
        interview: false,
        ...(req.max_cost_usd !== undefined ? { max_cost_usd: Math.max(0, req.max_cost_usd - spent) } : {}),
      },
      actor,
    );
    // The run's own budget is the one asked for, with the interviews already spent from it.
    const run = await this.update(preview.run.id, (r) => {
      r.options.max_cost_usd = req.max_cost_usd;
      r.spent_usd = Number((r.spent_usd + spent).toFixed(6));
      for (const n of notes) this.note(r, n);
      return structuredClone(r);
    });
    return { ...preview, run, estimate_usd: Number((preview.estimate_usd + spent).toFixed(6)) };
  }

  private worstCost(provider: string, model: string, promptChars: number, maxTokens: number): number {
    return this.deps.pricing.cost(provider, model, Math.ceil(promptChars / 3) + 16, maxTokens);
  }

  private needsReview(run: Run, node: RunNode, worker?: { status: string }): boolean {
    if (run.options.review === 'none') return false;
    if (run.options.review === 'all') return true;
    return node.critical || worker?.status === 'limited';
  }

  // ---------------------------------------------------------------- lease and loop

  /**
   * Drives an agents-mode run in this process (after a restart: resumes it).
   * @throws AppError CONFLICT while another live process holds the run.
   */
  async resume(id: string, actor: string): Promise<Run> {
    const run = await this.get(id);
    if (ENDED_RUN.has(run.status))
      throw new AppError('CONFLICT', `Run ${id} is ${run.status}`, {
        hint: 'Start a new run with tasks_run {root}',
      });
    if (run.status === 'budget_exhausted') {
      this.budgetStop.delete(id);
      await this.update(id, (r) => {
        r.status = 'running';
        this.note(r, `resumed by ${actor} after the budget stop`);
      });
    }
    if (run.options.mode === 'agents' && !this.active.has(id)) await this.drive(id, actor);
    return this.get(id);
  }

  private async drive(id: string, actor: string): Promise<void> {
    const holder = this.owner;
    await this.deps.runs.update((d) => {
      const r = d.runs[id];
      if (!r) throw new AppError('NOT_FOUND', `No run "${id}"`);
      const now = this.deps.clock.now();
      if (r.lease && r.lease.owner !== holder && leaseLive(r.lease, now))
        throw new AppError(
          'CONFLICT',
          `Run ${id} is being run by another server process (${r.lease.owner})`,
          {
            hint: `Its lease runs until ${new Date(r.lease.expires_at).toISOString()}; if that process died, resume after that`,
          },
        );
      const taken = r.lease && r.lease.owner !== holder;
      r.lease = { owner: holder, expires_at: now + LEASE_MS };
      if (taken || r.history.length > 1) this.note(r, `driven by ${holder} for ${actor}`);
    });
    const controller = new AbortController();
    const ended = this.loop(id, controller.signal).catch((error: unknown) =>
      this.deps.logger.error('run loop failed', { run: id, error }),
    );
    const done = ended.finally(async () => {
      this.active.delete(id);
      await this.deps.runs
        .update((d) => {
          const r = d.runs[id];
          if (r?.lease?.owner === holder) r.lease = undefined;
        })
        .catch(() => undefined);
    });
    this.active.set(id, { controller, done, ended });
    this.startLeaseTimer();
  }

  /**
   * Takes over the unfinished agents-mode runs of this state folder that nobody drives (their
   * process ended or their lease ran out): finished nodes stay finished, recorded answers are not
   * asked again. A run waiting for a person is driven too, so that the decision moves it on.
   */
  async adoptOrphans(): Promise<string[]> {
    const now = this.deps.clock.now();
    const orphans = await this.deps.runs.read((d) =>
      Object.values(d.runs)
        .filter(
          (r) =>
            r.options.mode === 'agents' &&
            (r.status === 'running' || r.status === 'waiting_for_human') &&
            !this.active.has(r.id) &&
            !(r.lease && leaseLive(r.lease, now)),
        )
        .map((r) => r.id),
    );
    const taken: string[] = [];
    for (const id of orphans) {
      try {
        await this.drive(id, 'auto-resume');
        taken.push(id);
      } catch (error) {
        // Another process took it first.
        if (!(error instanceof AppError && error.code === 'CONFLICT'))
          this.deps.logger.warn('run: could not take over an unfinished run', { run: id, error });
      }
    }
    if (taken.length) this.deps.logger.info('run: took over unfinished runs', { runs: taken });
    return taken;
  }

  /** Adopts orphaned runs now and whenever a lease may have run out (every lease period). */
  startAutoResume(): void {
    if (this.adoptTimer) return;
    const adopt = () => void this.adoptOrphans().catch(() => undefined);
    adopt();
    this.adoptTimer = setInterval(adopt, LEASE_MS);
    this.adoptTimer.unref();
  }

  private startLeaseTimer(): void {
    if (this.leaseTimer) return;
    this.leaseTimer = setInterval(() => {
      if (this.active.size === 0) return;
      const ids = [...this.active.keys()];
      void this.deps.runs
        .update((d) => {
          const now = this.deps.clock.now();
          for (const id of ids) {
            const r = d.runs[id];
            if (r?.lease?.owner === this.owner) r.lease.expires_at = now + LEASE_MS;
          }
        })
        .catch(() => undefined);
    }, LEASE_MS / 3);
    this.leaseTimer.unref();
  }

  private async loop(id: string, signal: AbortSignal): Promise<void> {
    const inflight = new Map<string, Promise<void>>();
    // Woken whenever a node ends, also one that ends while this loop is busy claiming others.
    let wake: () => void = () => undefined;
    let concurrency = 1;
    let reserved = 0;
    const launch = (task: string) => {
      reserved--;
      const p = this.execNode(id, task, signal)
        .catch((error: unknown) => this.deps.logger.error('run node failed', { run: id, task, error }))
        .finally(() => {
          inflight.delete(task);
          wake();
        });
      inflight.set(task, p);
    };
    const judging = new Set<string>();
    const slots: Slots = {
      take: (n, own = false) => {
        const busy = inflight.size - judging.size;
        const k = Math.max(0, Math.min(n, concurrency - busy - reserved + (own ? 1 : 0)));
        reserved += k;
        return k;
      },
      give: (k) => {
        reserved -= k;
      },
      launch,
      judging: (task, on) => {
        if (!on) judging.delete(task);
        else if (inflight.has(task)) {
          judging.add(task);
          wake();
        }
      },
    };
    this.launchers.set(id, slots);
    const pollMs = this.deps.pollMs ?? 500;
    const external = this.active.get(id)?.controller;
    try {
      while (!signal.aborted) {
        const woken = new Promise<void>((resolve) => (wake = resolve));
        const run = await this.deps.runs.read((d) => d.runs[id]);
        if (run) concurrency = run.options.concurrency;
        if (!run || run.status === 'cancelled' || run.lease?.owner !== this.owner) {
          external?.abort();
          this.active.get(id)?.controller.abort();
          break;
        }
        await this.applyDecisions(id);
        const capacity = this.budgetStop.has(id) ? 0 : slots.take(run.options.concurrency);
        if (capacity > 0) {
          const claimed = await this.claimReady(id, capacity, new Set(inflight.keys())).catch(
            (error: unknown) => {
              slots.give(capacity);
              throw error;
            },
          );
          slots.give(capacity - claimed.length);
          for (const task of claimed) slots.launch(task);
        }
        if (inflight.size === 0) {
          const next = await this.settle(id, signal);
          if (next === 'finished') break;
          if (next === 'wait') await sleep(pollMs, signal);
          continue;
        }
        await Promise.race([woken, sleep(1000, signal)]);
      }
    } finally {
      this.launchers.delete(id);
    }
    await Promise.allSettled([...inflight.values()]);
  }

  private note(run: Run, text: string): void {
    run.history.push({ at: this.now(), text });
    if (run.history.length > RUN_HISTORY) run.history.splice(0, run.history.length - RUN_HISTORY);
    run.updated_at = this.now();
  }

  private async update<R>(id: string, fn: (run: Run) => R): Promise<R> {
    let changed: RunStatus | undefined;
    const result = await this.deps.runs.update((d) => {
      const r = d.runs[id];
      if (!r) throw new AppError('NOT_FOUND', `No run "${id}"`);
      r.updated_at = this.now();
      const before = r.status;
      const out = fn(r);
      changed = r.status !== before ? r.status : undefined;
      return out;
    });
    if (changed) this.events.emit('status', { run: id, status: changed } satisfies RunStatusEvent);
    return result;
  }

  private emit(run: Run, message: string): void {
    const counts = nodeCounts(run);
    const event: RunEvent = {
      run: run.id,
      done: counts.done + counts.skipped + counts.cancelled,
      total: run.order.length + 1,
      message,
    };
    this.events.emit('progress', event);
  }

  /** Marks nodes running under this process's claim, or back to waiting. */
  private markClaimed(r: Run, tasks: readonly string[], running: boolean, now: number): void {
    for (const task of tasks) {
      const n = r.nodes[task]!;
      if (running) {
        n.state = 'running';
        n.claim = { holder: this.runHolder(r.id), expires_at: now + LEASE_MS };
        n.started_at ??= this.now();
      } else {
        n.state = 'waiting';
        n.claim = undefined;
      }
    }
  }

  /** Claims up to `capacity` ready nodes for this process (each exactly once across processes). */
  private async claimReady(id: string, capacity: number, mine: ReadonlySet<string>): Promise<string[]> {
    const now = this.deps.clock.now();
    const candidates = await this.deps.runs.read((d) => {
      const r = d.runs[id]!;
      const stale = r.order.filter((t) => {
        const n = r.nodes[t]!;
        return n.state === 'running' && !mine.has(t) && (!n.claim || !leaseLive(n.claim, now));
      });
      return [...stale, ...readyNodes(r).map((n) => n.task)].slice(0, capacity);
    });
    // Claimed in the claims document (one write for all) while the run records them as running;
    // a node someone else holds (a session's tasks_start) goes back to waiting.
    const mark = (r: Run, tasks: readonly string[], running: boolean) =>
      this.markClaimed(r, tasks, running, now);
    if (candidates.length === 0) return [];
    const [outcomes] = await Promise.all([
      Promise.all(candidates.map((task) => this.deps.claims.claim(task, this.runHolder(id), `run ${id}`))),
      this.update(id, (r) => mark(r, candidates, true)),
    ]);
    const refused = candidates.filter((_, i) => !outcomes[i]!.ok);
    if (refused.length > 0) await this.update(id, (r) => mark(r, refused, false));
    return candidates.filter((_, i) => outcomes[i]!.ok);
  }

  // ---------------------------------------------------------------- one node

  /** Runs one node; the records of its graded call are written meanwhile and awaited at its end. */
  private async execNode(id: string, taskId: string, signal: AbortSignal): Promise<void> {
    const afterwards: Array<Promise<void>> = [];
    const key = `${id}/${taskId}`;
    const speculation = this.speculative.get(key);
    let settle: (done: boolean) => void = () => undefined;
    const done = new Promise<boolean>((resolve) => (settle = resolve));
    try {
      await this.runNode(
        id,
        taskId,
        speculation ? AbortSignal.any([signal, speculation.controller.signal]) : signal,
        afterwards,
        done,
      );
    } finally {
      await this.recorded(id, taskId, afterwards);
      this.speculative.delete(key);
      if (this.provisional.has(key)) {
        this.provisional.delete(key);
        const state = await this.get(id).then(
          (r) => r.nodes[taskId]?.state,
          () => undefined,
        );
        settle(state === 'done');
        // Its answer failed after all: what started on it is stopped and waits again.
        if (state !== 'done')
          for (const [k, s] of this.speculative)
            if (k.startsWith(`${id}/`) && s.parents.includes(taskId)) s.controller.abort();
      }
      if (speculation?.controller.signal.aborted && !signal.aborted) await this.putBack(id, taskId);
    }
  }

  /** A dependent started on an answer that then failed: back to waiting, its claim let go. */
  private async putBack(id: string, taskId: string): Promise<void> {
    await this.update(id, (r) => {
      const n = r.nodes[taskId];
      if (!n || n.state !== 'running') return;
      n.state = 'waiting';
      n.claim = undefined;
      this.note(r, `${taskId}: stopped, an answer it built on failed its judges; it waits again`);
    }).catch(() => undefined);
    await this.deps.claims.release(taskId, this.runHolder(id)).catch(() => undefined);
  }

  /**
   * Starts the dependents of `taskId`, whose answer passed its code graders and waits for its
   * judges, that need nothing else: they work on the answer meanwhile and record nothing before
   * it is done (execNode stops them and puts them back if it fails).
   */
  private async speculate(id: string, taskId: string): Promise<void> {
    const launcher = this.launchers.get(id);
    if (!launcher || this.budgetStop.has(id)) return;
    // A long answer reaches its dependents as the leader's summary, made once it is done.
    if ((this.provisional.get(`${id}/${taskId}`)?.output.length ?? Infinity) > DEPENDENCY_CHARS) return;
    const provisionalHere = (t: string) => this.provisional.has(`${id}/${t}`);
    const wanted = await this.deps.runs.read((d) => {
      const r = d.runs[id]!;
      return r.order.filter((t) => {
        const n = r.nodes[t]!;
        if (n.state !== 'waiting' && n.state !== 'ready') return false;
        if (!n.depends_on.some((dep) => dep.task === taskId)) return false;
        return n.depends_on.every((dep) => {
          const s = r.nodes[dep.task]?.state;
          return s === 'done' || (s === 'running' && provisionalHere(dep.task));
        });
      });
    });
    if (wanted.length === 0) return;
    const room = launcher.take(wanted.length);
    const next = wanted.slice(0, room);
    const now = this.deps.clock.now();
    const holder = this.runHolder(id);
    let started: string[] = [];
    const outcomes = await Promise.all(next.map((task) => this.deps.claims.claim(task, holder, `run ${id}`)));
    const claimed = next.filter((_, i) => outcomes[i]!.ok);
    await this.update(id, (r) => {
      started = claimed.filter((t) => r.nodes[t]!.state === 'waiting' || r.nodes[t]!.state === 'ready');
      this.markClaimed(r, started, true, now);
      if (started.length)
        this.note(r, `${started.join(', ')} started on ${taskId}'s answer while its judges vote`);
    }).catch((error: unknown) => {
      launcher.give(room);
      throw error;
    });
    for (const task of claimed)
      if (!started.includes(task)) void this.deps.claims.release(task, holder).catch(() => undefined);
    launcher.give(room - started.length);
    for (const task of started) {
      const parents = (await this.get(id)).nodes[task]!.depends_on.map((d) => d.task).filter(provisionalHere);
      this.speculative.set(`${id}/${task}`, { controller: new AbortController(), parents });
      if (this.launchers.get(id) === launcher) launcher.launch(task);
      else {
        this.speculative.delete(`${id}/${task}`);
        await this.putBack(id, task);
      }
    }
  }

  /** Awaits the records of graded calls written in the background; a failure is logged. */
  private async recorded(id: string, taskId: string, afterwards: Array<Promise<void>>): Promise<void> {
    for (const r of await Promise.allSettled(afterwards))
      if (r.status === 'rejected')
        this.deps.logger.error('run: could not record a graded call', {
          run: id,
          task: taskId,
          error: r.reason,
        });
  }

  private async runNode(
    id: string,
    taskId: string,
    signal: AbortSignal,
    afterwards: Array<Promise<void>>,
    done: Promise<boolean>,
  ): Promise<void> {
    const stored = await this.get(id);
    // Started on answers still waiting for their judges: they count as its inputs here.
    const onAnswers = stored.nodes[taskId]!.depends_on.map((d) => d.task).filter(
      (t) => stored.nodes[t]?.state !== 'done' && this.provisional.has(`${id}/${t}`),
    );
    const parents = onAnswers.map((t) => this.provisional.get(`${id}/${t}`)!);
    const run = onAnswers.length ? structuredClone(stored) : stored;
    for (const t of onAnswers) {
      run.nodes[t]!.output = trimResult(this.provisional.get(`${id}/${t}`)!.output, RESULT_CHARS);
      run.nodes[t]!.state = 'done';
    }
    const node = run.nodes[taskId]!;
    const { task, blockers: taskBlockers } = await this.deps.tasks.get(taskId);
    const blockers = taskBlockers.filter((b) => !onAnswers.includes(b.task));
    const actor = `run ${id}`;
    let starting: Promise<void> | undefined;
    let recording: Promise<void> | undefined;
    let deferred: Attempt | undefined;
    let answer: { output: string; value?: unknown; worker: Worker | undefined; attempt: number } | undefined;
    if (node.pending) {
      // Recorded before a restart: continue from review and gates, never call the worker again.
      const w = (await this.deps.workers.list()).find(
        (p) => `${p.provider}/${p.model}` === node.pending!.worker,
      );
      answer = {
        output: node.pending.output,
        value: node.pending.value,
        attempt: node.pending.attempt,
        worker: w
          ? {
              id: node.pending.worker,
              provider: w.provider as ProviderName,
              model: w.model,
              status: w.status,
              trust: w.trust,
            }
          : undefined,
      };
    } else if (task.status === 'completed') {
      // Completed before a crash recorded it here: take its result, call nobody.
      await this.markDone(id, taskId, resultText(task), node.worker);
      return;
    } else {
      if (blockers.length > 0) {
        await this.block(
          id,
          taskId,
          [`waits on ${blockers.map((b) => `${b.task} (${b.kind}: ${b.reason})`).join('; ')}`],
          actor,
        );
        return;
      }
      // Marked active while the worker runs (the blockers were checked just now).
      // Not while an answer it builds on is still being judged (its task is not completed yet).
      starting =
        ['ready', 'blocked', 'draft'].includes(task.status) && onAnswers.length === 0
          ? (async () => {
              if (task.status === 'draft')
                await this.deps.tasks.transition(taskId, 'ready', `run ${id}`, actor);
              await this.deps.tasks.transition(taskId, 'active', `run ${id}`, actor);
            })().catch((error: unknown) =>
              this.deps.logger.warn('run could not mark a task active', { run: id, task: taskId, error }),
            )
          : undefined;
      // A retry goes to the worker that failed, with the reasons; then the next best takes over.
      const options = await this.candidates(run, node, task.output_schema !== undefined);
      const last = node.attempts.slice(node.since ?? 0).at(-1);
      const worker =
        (last && !last.pass ? options.find((w) => w.id === last.worker) : undefined) ?? options[0];
      if (!worker) {
        await starting;
        await this.block(
          id,
          taskId,
          [
            node.excluded.length
              ? `every eligible worker failed it (${node.excluded.join(', ')})`
              : 'no onboarded worker is eligible for this kind of work',
          ],
          actor,
        );
        return;
      }
      const prompt = workerPrompt(await this.digestInputs(run, node, signal), node, task);
      const n = node.attempts.length + 1;
      const cacheKey = this.cacheKey(run, node, task, worker.id);
      const cached = cacheKey ? await this.deps.cache.read((d) => d.entries[cacheKey]?.output) : undefined;
      if (cached !== undefined) {
        await this.recordAttempt(id, taskId, {
          attempt: {
            n,
            worker: worker.id,
            at: this.now(),
            pass: true,
            reasons: [],
            cost_usd: 0,
            latency_ms: 0,
            cached: true,
          },
          pending: { output: cached, worker: worker.id, attempt: n },
        });
        answer = { output: cached, worker, attempt: n };
      } else {
        const worst = this.worstCost(
          worker.provider,
          worker.model,
          prompt.length + 2000,
          run.options.max_tokens,
        );
        const reservedNow = this.reserved.get(id) ?? 0;
        if (
          run.options.max_cost_usd !== undefined &&
          run.spent_usd + reservedNow + worst > run.options.max_cost_usd
        ) {
          this.budgetStop.add(id);
          await this.update(id, (r) => {
            const x = r.nodes[taskId]!;
            x.state = 'ready';
            x.claim = undefined;
            this.note(
              r,
              `budget: ${taskId} not started (spent $${r.spent_usd.toFixed(4)}, a call may cost $${worst.toFixed(4)}, max $${r.options.max_cost_usd})`,
            );
          });
          await this.deps.claims.release(taskId, this.runHolder(id));
          return;
        }
        this.reserved.set(id, reservedNow + worst);
        let attempt: Attempt;
        let value: unknown;
        let output = '';
        try {
          const r = await gradedRun(
            this.deps.graded,
            {
              prompt,
              provider: worker.provider,
              model: worker.model,
              system: WORKER_SYSTEM,
              ...(node.specialist ? { archetype: node.specialist } : {}),
              outputSchema: task.output_schema,
              maxTokens: run.options.max_tokens,
              fallback: false,
              operation: 'tasks_run',
            },
            {
              actor,
              signal,
              afterwards,
              // Its dependents may start on the answer while its judges vote (not when the leader
              // reviews it, or the cache keys on its inputs).
              judgeLater: !this.needsReview(run, node, worker) && !run.options.cache,
            },
          );
          output = r.output;
          value = r.json?.value;
          let evaluation = r.evaluation;
          if (r.verdict) {
            let known: (done: boolean) => void = () => undefined;
            const settled = new Promise<boolean>((resolve) => (known = resolve));
            void done.then(known);
            this.provisional.set(`${id}/${taskId}`, { output, done: settled });
            const launcher = this.launchers.get(id);
            launcher?.judging(taskId, true);
            try {
              await this.speculate(id, taskId).catch((error: unknown) =>
                this.deps.logger.warn('run: could not start dependents early', {
                  run: id,
                  task: taskId,
                  error,
                }),
              );
              evaluation = await r.verdict;
            } finally {
              launcher?.judging(taskId, false);
            }
          }
          const failing = evaluation.graders.filter((g) => !g.pass).map((g) => `${g.grader}: ${g.reason}`);
          attempt = {
            n,
            worker: worker.id,
            at: this.now(),
            pass: evaluation.pass,
            reasons: failing,
            trial_id: r.trial_id,
            cost_usd: Number((r.cost_usd + (evaluation.judge_cost_usd ?? 0)).toFixed(6)),
            latency_ms: r.latency_ms,
          };
        } catch (error) {
          if (signal.aborted) return;
          const e = error instanceof AppError ? error : new AppError('INTERNAL', String(error));
          if (e.code === 'IMMUNE_BLOCKED' || e.code === 'BUDGET_EXCEEDED' || e.code === 'NO_PROVIDER') {
            await starting;
            await this.block(id, taskId, [e.message], actor);
            return;
          }
          attempt = {
            n,
            worker: worker.id,
            at: this.now(),
            pass: false,
            reasons: [e.message],
            trial_id: e.details?.trial_id as string | undefined,
            cost_usd: 0,
            latency_ms: 0,
          };
        } finally {
          this.reserved.set(id, Math.max(0, (this.reserved.get(id) ?? worst) - worst));
        }
        // Built on answers whose judges were voting: nothing is recorded before they are done.
        for (const parent of parents) if (!(await parent.done)) return;
        if (signal.aborted) return;
        // An answer the leader reviews is recorded at once (a resumed run continues from it). One
        // that goes straight to the gates is recorded with the node's completion: until the task
        // completes (durably, with the answer as its result) a restart asks again.
        if (!attempt.pass || this.needsReview(run, node, worker))
          recording = this.recordAttempt(id, taskId, {
            attempt,
            ...(attempt.pass ? { pending: { output, value, worker: worker.id, attempt: n } } : {}),
          });
        else deferred = attempt;
        if (!attempt.pass) {
          await Promise.all([recording, starting]);
          await this.afterFailure(id, taskId, worker.id, actor);
          return;
        }
        answer = { output, value, worker, attempt: n };
      }
    }
    await starting;
    if (signal.aborted) return;
    // Review by the leader: limited workers' outputs and critical nodes are not final before it.
    const fresh = await this.get(id);
    const current = fresh.nodes[taskId]!;
    if (this.needsReview(fresh, current, answer.worker ?? { status: 'limited' })) {
      await recording;
      if (deferred) {
        // The worker's standing changed during the call: record the answer before the review.
        await this.recordAttempt(id, taskId, {
          attempt: deferred,
          pending: {
            output: answer.output,
            value: answer.value,
            worker: deferred.worker,
            attempt: deferred.n,
          },
        });
        deferred = undefined;
      }
      const review = await this.review(fresh, current, task, answer.output, signal);
      await this.update(id, (r) => {
        const a = r.nodes[taskId]!.attempts.find((x) => x.n === answer.attempt);
        if (a) a.review = review;
        r.spent_usd = Number((r.spent_usd + review.cost_usd).toFixed(6));
        if (!review.approve) {
          r.nodes[taskId]!.pending = undefined;
          if (a) {
            a.pass = false;
            a.reasons = review.reasons.map((x) => `review: ${x}`);
          }
          this.note(
            r,
            `${taskId}: the leader rejected ${answer.worker?.id ?? 'the'} answer: ${review.reasons.join('; ')}`,
          );
        }
      });
      if (!review.approve) {
        await this.afterFailure(id, taskId, answer.worker?.id ?? current.pending?.worker ?? '', actor);
        return;
      }
    }
    await this.finishNode(
      id,
      taskId,
      task,
      answer.output,
      answer.value,
      actor,
      signal,
      answer.worker?.id,
      recording,
      deferred,
    );
  }

  private async review(
    run: Run,
    node: RunNode,
    task: Task,
    output: string,
    signal: AbortSignal,
  ): Promise<Run['nodes'][string]['attempts'][number]['review'] & object> {
    const leader = this.leaderOf(run);
    if (!leader?.provider)
      return {
        by: 'none',
        approve: false,
        reasons: ['no leader model is configured to review it'],
        cost_usd: 0,
      };
    const canAdd = run.added < run.options.max_added;
    const prompt = reviewPrompt(node, task, output, canAdd);
    try {
      const r = await gradedRun(
        this.deps.graded,
        {
          prompt,
          provider: leader.provider,
          model: leader.model,
          system:
            'You are the leader of a team of AI workers, reviewing their work strictly. Answer with JSON only.',
          outputSchema: REVIEW_SCHEMA,
          temperature: 0,
          maxTokens: 800,
          operation: 'run_review',
          graders: defaultGraders(true, 'off'),
        },
        { actor: `run ${run.id} leader`, signal },
      );
      const v = r.json?.value as
        | { approve?: boolean; reasons?: string[]; add?: Array<{ title: string; description?: string }> }
        | undefined;
      if (!v || typeof v.approve !== 'boolean')
        return {
          by: `${r.provider}/${r.model}`,
          approve: false,
          reasons: ['the review was not valid JSON'],
          cost_usd: r.cost_usd,
        };
      if (v.add?.length && canAdd) await this.addNodes(run.id, node.task, v.add, output);
      return {
        by: `${r.provider}/${r.model}`,
        approve: v.approve,
        reasons: v.reasons ?? [],
        cost_usd: r.cost_usd,
      };
    } catch (error) {
      return {
        by: `${leader.provider}/${leader.model ?? ''}`,
        approve: false,
        reasons: [`the review failed: ${error instanceof Error ? error.message : String(error)}`],
        cost_usd: 0,
      };
    }
  }

  /**
   * The leader's summaries of this node's long data inputs (made once per input and shared by
   * its dependents; a failure or no leader leaves the head-and-tail cut).
   */
  private async digestInputs(run: Run, node: RunNode, signal: AbortSignal): Promise<Run> {
    const long = node.depends_on
      .filter((d) => d.kind === 'data')
      .map((d) => run.nodes[d.task])
      .filter((dep): dep is RunNode => !!dep?.output && dep.output.length > DEPENDENCY_CHARS && !dep.digest);
    const leader = this.leaderOf(run);
    if (long.length === 0 || !leader?.provider) return run;
    const made = await Promise.all(
      long.map((dep) => {
        const key = `${run.id}/${dep.task}`;
        let pending = this.digests.get(key);
        if (!pending) {
          pending = this.digest(run, dep, leader, signal).finally(() => this.digests.delete(key));
          this.digests.set(key, pending);
        }
        return pending;
      }),
    );
    return made.some(Boolean) ? this.get(run.id) : run;
  }

  private async digest(
    run: Run,
    dep: RunNode,
    leader: { provider?: ProviderName; model?: string },
    signal: AbortSignal,
  ): Promise<boolean> {
    const dependents = run.order
      .map((t) => run.nodes[t]!)
      .filter((n) => n.depends_on.some((d) => d.task === dep.task && d.kind === 'data'))
      .map((n) => n.title);
    try {
      const r = await gradedRun(
        this.deps.graded,
        {
          prompt: digestPrompt(dep, dependents),
          ...(leader.provider ? { provider: leader.provider } : {}),
          ...(leader.model ? { model: leader.model } : {}),
          system: 'You are the leader of a team of AI workers, passing results from one to the next.',
          temperature: 0,
          maxTokens: 900,
          operation: 'run_digest',
          graders: defaultGraders(false, 'off'),
        },
        { actor: `run ${run.id} leader`, signal },
      );
      const text = r.output.trim();
      const cost = r.cost_usd + (r.evaluation.judge_cost_usd ?? 0);
      await this.update(run.id, (x) => {
        x.spent_usd = Number((x.spent_usd + cost).toFixed(6));
        const n = x.nodes[dep.task]!;
        if (r.evaluation.pass && text && !n.digest) {
          n.digest = { text: text.slice(0, DIGEST_CHARS), by: `${r.provider}/${r.model}`, cost_usd: cost };
          this.note(
            x,
            `${dep.task}: its ${dep.output?.length ?? 0}-character result summarised for its dependents by ${r.provider}/${r.model}`,
          );
        }
      });
      return r.evaluation.pass && text.length > 0;
    } catch (error) {
      this.deps.logger.warn('run: the leader could not summarise a result; its dependents get it cut', {
        run: run.id,
        task: dep.task,
        error,
      });
      return false;
    }
  }

  /**
   * Nodes the leader adds after a result: subtasks of the root that take that result as data,
   * recorded with the start of the answer that led to them. One that would run command gates (a
   * program on this machine) waits for a person: it is blocked with an inbox decision from the start.
   */
  private async addNodes(
    id: string,
    after: string,
    items: Array<{
      title: string;
      description?: string;
      command_gates?: Array<{ command: string; args?: string[] }>;
    }>,
    answer: string,
  ): Promise<void> {
    const run = await this.get(id);
    const room = Math.max(0, run.options.max_added - run.added);
    const take = items.slice(0, room);
    if (take.length === 0) return;
    const because = answer.slice(0, 600);
    const added: Array<{ task: { id: string; title: string }; gates: string[] }> = [];
    const refused: string[] = [];
    for (const item of take) {
      const gates = (item.command_gates ?? []).map((g) => ({ command: g.command, args: g.args ?? [] }));
      try {
        const [made] = await this.deps.tasks.add(
          [
            {
              title: item.title.slice(0, 200),
              ...(item.description ? { description: item.description.slice(0, 2000) } : {}),
              parent: run.root,
              depends_on: [{ task: after, kind: 'data' as const }],
              tags: ['added-by-leader'],
              ...(gates.length ? { command_gates: gates } : {}),
            },
          ],
          `run ${id} leader`,
        );
        if (made)
          added.push({
            task: made.task,
            gates: gates.map((g) => [g.command, ...g.args].join(' ').slice(0, 200)),
          });
      } catch (error) {
        refused.push(
          `${item.title.slice(0, 80)}: ${error instanceof Error ? error.message.slice(0, 200) : String(error)}`,
        );
      }
    }
    await this.update(id, (r) => {
      for (const { task } of added) {
        r.nodes[task.id] = {
          task: task.id,
          title: task.title,
          state: 'waiting',
          depends_on: [{ task: after, kind: 'data' }],
          critical: false,
          attempts: [],
          excluded: [],
          cost_usd: 0,
          latency_ms: 0,
          added_after: after,
          added_because: because,
        };
        r.order.push(task.id);
        r.added++;
      }
      if (added.length)
        this.note(
          r,
          `the leader added ${added.length} node(s) after ${after}: ${added.map((a) => `${a.task.id}${a.gates.length ? ' (command gates: waits for a person)' : ''}`).join(', ')}`,
        );
      for (const why of refused) this.note(r, `the leader's added node was refused: ${why}`);
    });
    for (const { task, gates } of added.filter((a) => a.gates.length > 0))
      await this.block(
        id,
        task.id,
        [
          `the leader added it after ${after}, with command gates that run on this machine: ${gates.join('; ').slice(0, 300)}`,
        ],
        `run ${id} leader`,
        `Run ${id}: let the leader's new node "${task.title.slice(0, 120)}" (${task.id}) run? Its command gates: ${gates.join('; ').slice(0, 200)}`,
      );
  }

  private async recordAttempt(
    id: string,
    taskId: string,
    r: { attempt: Attempt; pending?: RunNode['pending'] },
  ): Promise<void> {
    await this.update(id, (run) => this.applyAttempt(run, taskId, r.attempt, r.pending));
  }

  private applyAttempt(run: Run, taskId: string, attempt: Attempt, pending?: RunNode['pending']): void {
    const n = run.nodes[taskId]!;
    n.attempts.push(attempt);
    n.cost_usd = Number((n.cost_usd + attempt.cost_usd).toFixed(6));
    n.latency_ms += attempt.latency_ms;
    n.worker = attempt.worker;
    if (pending) n.pending = pending;
    run.spent_usd = Number((run.spent_usd + attempt.cost_usd).toFixed(6));
    if (!attempt.pass)
      this.note(
        run,
        `${taskId}: attempt ${attempt.n} by ${attempt.worker} failed: ${attempt.reasons.join('; ').slice(0, 300)}`,
      );
  }

  /** Completes the task through its gates; a gate failure counts as the worker's failure. */
  private async finishNode(
    id: string,
    taskId: string,
    task: Task,
    output: string,
    value: unknown,
    actor: string,
    signal?: AbortSignal,
    worker?: string,
    recording?: Promise<void>,
    deferred?: Attempt,
  ): Promise<void> {
    // A short answer is the result itself; a long one is kept as an artifact file.
    const short = output.length <= SHORT_RESULT;
    const input: CompleteInput = {
      ...(value !== undefined ? { result: value } : short ? { result: output } : {}),
      summary: output.slice(0, SHORT_RESULT),
      ...(short ? {} : { detailed_work: output, artifact_name: 'run_output.md' }),
      note: `completed in run ${id}${worker ? ` by ${worker}` : ''}`,
    };
    try {
      const current = (await this.deps.tasks.get(taskId)).task;
      const completing =
        current.status !== 'completed' ? this.deps.tasks.complete(taskId, input, actor, signal) : undefined;
      const [recorded, completed] = await Promise.allSettled([recording, completing]);
      if (recorded.status === 'rejected') throw recorded.reason;
      if (completed.status === 'rejected') throw completed.reason;
    } catch (error) {
      const reasons =
        error instanceof AppError && error.code === 'GATE_FAILED'
          ? gateViolations(error)
          : [error instanceof Error ? error.message : String(error)];
      await this.update(id, (r) => {
        if (deferred) this.applyAttempt(r, taskId, deferred);
        const n = r.nodes[taskId]!;
        n.pending = undefined;
        const a = n.attempts.at(-1);
        if (a) {
          a.pass = false;
          a.reasons = reasons.map((x) => `gate: ${x}`);
        }
        this.note(r, `${taskId}: gates refused the answer: ${reasons.join('; ').slice(0, 300)}`);
      });
      await this.afterFailure(id, taskId, worker ?? '', actor);
      return;
    }
    const run = await this.markDone(
      id,
      taskId,
      value !== undefined ? JSON.stringify(value) : output,
      worker,
      deferred,
    );
    const key = worker
      ? this.cacheKey(run, { ...run.nodes[taskId]!, attempts: [] }, task, worker)
      : undefined;
    if (key && worker) {
      await this.deps.cache
        .update((d) => {
          d.entries[key] = { output, worker, at: this.now() };
          const keys = Object.keys(d.entries);
          if (keys.length > 500) for (const k of keys.slice(0, keys.length - 500)) delete d.entries[k];
        })
        .catch(() => undefined);
    }
  }

  /** Records a node as done with its result; its claim is let go off the critical path. */
  private async markDone(
    id: string,
    taskId: string,
    result: string,
    worker?: string,
    attempt?: Attempt,
  ): Promise<Run> {
    // The dependents this node makes ready start at once when the loop has room: claimed while
    // the same run write records this node done and them running (this node's slot frees now).
    const launcher = this.launchers.get(id);
    const wanted =
      launcher && !this.budgetStop.has(id)
        ? await this.deps.runs.read((d) => {
            const r = structuredClone(d.runs[id]!);
            r.nodes[taskId]!.state = 'done';
            return readyNodes(r)
              .filter((n) => n.depends_on.some((dep) => dep.task === taskId))
              .map((n) => n.task);
          })
        : [];
    const room = launcher && wanted.length > 0 ? launcher.take(wanted.length, true) : 0;
    const next = wanted.slice(0, room);
    const now = this.deps.clock.now();
    const holder = this.runHolder(id);
    let started: string[] = [];
    const [outcomes, run] = await Promise.all([
      Promise.all(next.map((task) => this.deps.claims.claim(task, holder, `run ${id}`))),
      this.update(id, (r) => {
        if (attempt) this.applyAttempt(r, taskId, attempt);
        const n = r.nodes[taskId]!;
        n.state = 'done';
        n.output = trimResult(result, RESULT_CHARS);
        n.pending = undefined;
        n.claim = undefined;
        n.finished_at = this.now();
        this.note(r, `${taskId} done${worker ? ` by ${worker}` : ''}`);
        // Still ready under the lock (nothing else started them meanwhile).
        const ready = new Set(readyNodes(r).map((x) => x.task));
        started = next.filter((task) => ready.has(task));
        this.markClaimed(r, started, true, now);
        return structuredClone(r);
      }),
    ]).catch((error: unknown) => {
      // Nothing was started: the slots go back.
      launcher?.give(room);
      throw error;
    });
    const refused = started.filter((task) => !outcomes[next.indexOf(task)]!.ok);
    if (refused.length > 0)
      // Someone else holds it (a session's tasks_start): back to waiting, as claimReady does.
      await this.update(id, (r) => this.markClaimed(r, refused, false, now));
    for (const task of next)
      if (!started.includes(task) && outcomes[next.indexOf(task)]!.ok)
        void this.deps.claims.release(task, holder).catch(() => undefined);
    const launching = started.filter((task) => !refused.includes(task));
    launcher?.give(room - launching.length);
    if (launcher && this.launchers.get(id) === launcher) for (const task of launching) launcher.launch(task);
    else if (launching.length > 0)
      // The loop stopped meanwhile (cancelled, lease lost): leave them for whoever drives next.
      await this.update(id, (r) => this.markClaimed(r, launching, false, now)).then(() =>
        Promise.all(launching.map((task) => this.deps.claims.release(task, holder))),
      );
    void this.deps.claims
      .release(taskId)
      .catch((error: unknown) => this.deps.logger.warn('claim release failed', { task: taskId, error }));
    this.emit(run, `${taskId} done`);
    return run;
  }

  /**
   * The cache key of a node's first attempt: what the worker is asked (task text, the results it
   * builds on, its role), the worker and the output schema. Undefined when caching is off or the
   * node already failed (a retry carries feedback and is never served from the cache).
   */
  private cacheKey(run: Run, node: RunNode, task: Task, worker: string): string | undefined {
    if (!run.options.cache || node.attempts.slice(node.since ?? 0).some((a) => !a.pass)) return undefined;
    const inputs = node.depends_on
      .filter((d) => d.kind === 'data')
      .map((d) => run.nodes[d.task]?.output ?? '');
    return createHash('sha256')
      .update(
        JSON.stringify([taskText(task), inputs, node.specialist ?? null, worker, task.output_schema ?? null]),
      )
      .digest('hex');
  }

  /** Retry with the same worker, reassign to the next, or block for a human. */
  private async afterFailure(id: string, taskId: string, worker: string, actor: string): Promise<void> {
    const run = await this.get(id);
    const node = run.nodes[taskId]!;
    const since = node.attempts.slice(node.since ?? 0);
    const byWorker = since.filter((a) => a.worker === worker).length;
    if (byWorker <= run.options.retries) {
      await this.update(id, (r) => {
        const n = r.nodes[taskId]!;
        n.state = 'ready';
        n.claim = undefined;
        this.note(r, `${taskId}: retry ${byWorker} of ${r.options.retries} with ${worker}, reasons fed back`);
      });
      await this.deps.claims.release(taskId);
      return;
    }
    await this.update(id, (r) => {
      const n = r.nodes[taskId]!;
      if (worker && !n.excluded.includes(worker)) n.excluded.push(worker);
      n.state = 'ready';
      n.claim = undefined;
      this.note(r, `${taskId}: ${worker} failed it ${byWorker} time(s); reassigning`);
    });
    await this.deps.claims.release(taskId);
    this.emit(run, `${taskId} reassigned`);
    void actor;
  }

  /** No worker left (or it cannot start): the task is blocked and a human decides in the inbox. */
  private async block(
    id: string,
    taskId: string,
    reasons: string[],
    actor: string,
    summary?: string,
  ): Promise<void> {
    const run = await this.get(id);
    const node = run.nodes[taskId]!;
    const inboxId = await this.deps.inbox.requestNodeDecision({
      requested_by: actor,
      summary:
        summary ??
        `Run ${id}: retry "${node.title.slice(0, 120)}" (${taskId})? ${node.attempts.length} attempt(s) failed`,
      reasons: [
        ...reasons,
        ...node.attempts.slice(-3).flatMap((a) => a.reasons.slice(0, 2).map((x) => `${a.worker}: ${x}`)),
      ].map((x) => x.slice(0, 300)),
      payload: { run_id: id, task: taskId, title: node.title.slice(0, 200) },
    });
    const task = (await this.deps.tasks.get(taskId)).task;
    if (task.status !== 'blocked' && !CLOSED.has(task.status))
      await this.deps.tasks
        .transition(taskId, 'blocked', `run ${id}: ${reasons[0]?.slice(0, 200) ?? 'failed'}`, actor)
        .catch(() => undefined);
    const after = await this.update(id, (r) => {
      const n = r.nodes[taskId]!;
      n.state = 'blocked';
      n.claim = undefined;
      n.pending = undefined;
      n.inbox_id = inboxId;
      n.reason = reasons.join('; ').slice(0, 500);
      this.note(r, `${taskId} blocked: ${n.reason}; a human decides in the inbox (${inboxId})`);
      return structuredClone(r);
    });
    await this.deps.claims.release(taskId);
    this.emit(after, `${taskId} blocked (inbox ${inboxId})`);
  }

  /** A human's inbox decisions on blocked nodes: approved -> retried with fresh workers; rejected -> skipped. */
  private async applyDecisions(id: string): Promise<void> {
    const blocked = await this.deps.runs.read((d) =>
      Object.values(d.runs[id]?.nodes ?? {})
        .filter((n) => n.state === 'blocked' && n.inbox_id)
        .map((n) => ({ task: n.task, inbox: n.inbox_id! })),
    );
    for (const b of blocked) {
      const item = await this.deps.inbox.get(b.inbox).catch(() => undefined);
      if (!item || item.status === 'pending' || item.status === 'expired') continue;
      const approved = item.status === 'executed' || item.status === 'approved';
      const applied = await this.update(id, (r) => {
        const n = r.nodes[b.task]!;
        if (n.state !== 'blocked' || n.inbox_id !== b.inbox) return false;
        n.inbox_id = undefined;
        if (approved) {
          n.state = 'ready';
          n.excluded = [];
          n.since = n.attempts.length;
          n.reason = undefined;
          this.note(r, `${b.task}: ${item.decided_by ?? 'a human'} approved a retry`);
        } else {
          n.state = 'skipped';
          n.reason = `rejected by ${item.decided_by ?? 'a human'}: ${item.decision_reason ?? ''}`;
          this.note(r, `${b.task} skipped: ${n.reason}`);
        }
        return true;
      });
      if (!applied) continue;
      const actor = `run ${id} (${item.decided_by ?? 'human'})`;
      if (approved)
        await this.deps.tasks.transition(b.task, 'ready', 'retry approved', actor).catch(() => undefined);
      else
        await this.deps.tasks
          .transition(b.task, 'cancelled', item.decision_reason ?? 'rejected', actor)
          .catch(() => undefined);
    }
  }

  /** Nothing runs here: finish (synthesis), wait for a human or another process, or stop on the budget. */
  private async settle(id: string, signal: AbortSignal): Promise<'finished' | 'wait' | 'continue'> {
    const now = this.deps.clock.now();
    // Written only when a node becomes unreachable (a write on the way to the synthesis costs).
    const seen = await this.get(id);
    let unreachable: RunNode[] = [];
    const run =
      skipUnreachable(structuredClone(seen)).length > 0
        ? await this.update(id, (r) => {
            unreachable = skipUnreachable(r);
            for (const n of unreachable) this.note(r, `${n.task} skipped: ${n.reason}`);
            return structuredClone(r);
          })
        : seen;
    // Their tasks close too (with the reason), so the root's synthesis is not held by open subtasks.
    for (const n of unreachable)
      await this.deps.tasks
        .transition(n.task, 'cancelled', `run ${id}: ${n.reason ?? 'skipped'}`, `run ${id}`)
        .catch(() => undefined);
    const nodes = run.order.map((t) => run.nodes[t]!);
    if (nodes.some((n) => n.state === 'running' && n.claim && leaseLive(n.claim, now))) return 'wait';
    if (readyNodes(run).length > 0 || nodes.some((n) => n.state === 'running')) {
      if (this.budgetStop.has(id)) {
        await this.update(id, (r) => {
          r.status = 'budget_exhausted';
          this.note(
            r,
            `stopped: the run's budget ($${r.options.max_cost_usd}) cannot pay for another call; resume with tasks_run {resume} after raising it`,
          );
        });
        this.emit(run, 'budget exhausted');
        return 'finished';
      }
      return 'continue';
    }
    if (nodes.some((n) => n.state === 'blocked')) {
      if (run.status !== 'waiting_for_human')
        await this.update(id, (r) => {
          r.status = 'waiting_for_human';
          this.note(
            r,
            'waiting for a human decision in the inbox on blocked node(s); everything else is done',
          );
        });
      return 'wait';
    }
    if (run.status === 'waiting_for_human')
      await this.update(id, (r) => {
        r.status = 'running';
      });
    await this.synthesize(id, signal);
    return 'finished';
  }

  private async synthesize(id: string, signal: AbortSignal): Promise<void> {
    const run = await this.get(id);
    const { task: root } = await this.deps.tasks.get(run.root);
    const leader = this.leaderOf(run);
    const actor = `run ${id} leader`;
    let output = '';
    let trial: string | undefined;
    let cost = 0;
    // The root is marked active while the leader writes; the synthesis's records are written
    // while the root completes.
    const starting =
      root.status === 'ready'
        ? this.deps.tasks.transition(root.id, 'active', `run ${id}`, actor).then(
            () => undefined,
            () => undefined,
          )
        : Promise.resolve();
    const afterwards: Array<Promise<void>> = [];
    try {
      const r = await gradedRun(
        this.deps.graded,
        {
          prompt: synthesisPrompt(run, root),
          ...(leader?.provider ? { provider: leader.provider } : {}),
          ...(leader?.model ? { model: leader.model } : {}),
          system: 'You are the leader of a team of AI workers, combining their results into one answer.',
          maxTokens: run.options.max_tokens,
          operation: 'run_synthesis',
        },
        { actor, signal, afterwards },
      );
      output = r.output;
      trial = r.trial_id;
      cost = r.cost_usd + (r.evaluation.judge_cost_usd ?? 0);
      if (!r.evaluation.pass)
        throw new AppError(
          'GATE_FAILED',
          `the synthesis failed its graders: ${r.evaluation.graders
            .filter((g) => !g.pass)
            .map((g) => g.reason)
            .join('; ')}`,
        );
      await starting;
      const recorded = this.recorded(id, run.root, afterwards);
      // Nodes a person rejected (and those that needed them): the root says it is partly done.
      const missing = run.order.map((t) => run.nodes[t]!).filter((n) => n.state !== 'done');
      const gap = missing.length
        ? `Partly done: ${missing.length} of ${run.order.length} subtask(s) not done (${missing
            .map((n) => `${n.task} ${n.state}${n.reason ? `: ${n.reason.slice(0, 120)}` : ''}`)
            .join('; ')
            .slice(0, 600)}).`
        : '';
      if (missing.length && !root.tags.includes(PARTLY_DONE_TAG))
        await this.deps.tasks.update(root.id, { tags: [...root.tags, PARTLY_DONE_TAG] }, gap, actor);
      await this.deps.tasks.complete(
        root.id,
        {
          summary: (gap ? `${gap}\n\n${output}` : output).slice(0, 1000),
          detailed_work: output,
          artifact_name: 'synthesis.md',
          note: `synthesised by run ${id}${gap ? ` (${gap.slice(0, 200)})` : ''}`,
        },
        actor,
        signal,
      );
      await recorded;
      const after = await this.update(id, (r2) => {
        r2.synthesis = {
          state: 'done',
          output: trimResult(output, RESULT_CHARS),
          ...(trial ? { trial_id: trial } : {}),
          cost_usd: Number(cost.toFixed(6)),
        };
        r2.spent_usd = Number((r2.spent_usd + cost).toFixed(6));
        r2.status = missing.length ? 'partly_done' : 'completed';
        r2.finished_at = this.now();
        this.note(
          r2,
          missing.length
            ? `partly done: ${r2.root} synthesised; ${gap}`
            : `completed: ${r2.root} synthesised`,
        );
        return structuredClone(r2);
      });
      this.emit(after, after.status === 'partly_done' ? 'partly done' : 'completed');
    } catch (error) {
      await Promise.all([starting, this.recorded(id, run.root, afterwards)]);
      if (signal.aborted) return;
      const reason =
        error instanceof AppError && error.code === 'GATE_FAILED'
          ? gateViolations(error).join('; ') || error.message
          : error instanceof Error
            ? error.message
            : String(error);
      const after = await this.update(id, (r2) => {
        r2.synthesis = {
          state: 'failed',
          cost_usd: Number(cost.toFixed(6)),
          reason,
          ...(trial ? { trial_id: trial } : {}),
          ...(output ? { output: trimResult(output, RESULT_CHARS) } : {}),
        };
        r2.spent_usd = Number((r2.spent_usd + cost).toFixed(6));
        r2.status = 'waiting_for_human';
        this.note(
          r2,
          `synthesis failed: ${reason.slice(0, 300)}; every node is done: complete ${r2.root} with tasks_complete, or resume to try again`,
        );
        return structuredClone(r2);
      });
      this.emit(after, 'synthesis failed');
    }
  }

  // ---------------------------------------------------------------- cancel

  /** Cancels a run: no node starts any more; calls in flight in this process are aborted. */
  async cancel(id: string, actor: string, reason: string): Promise<Run> {
    const run = await this.update(id, (r) => {
      if (ENDED_RUN.has(r.status)) throw new AppError('CONFLICT', `Run ${id} is already ${r.status}`);
      r.status = 'cancelled';
      r.finished_at = this.now();
      for (const t of r.order) {
        const n = r.nodes[t]!;
        if (!CLOSED_NODE.has(n.state)) {
          n.state = 'cancelled';
          n.claim = undefined;
          n.reason = `run cancelled by ${actor}`;
        }
      }
      this.note(r, `cancelled by ${actor}: ${reason}`);
      return structuredClone(r);
    });
    this.active.get(id)?.controller.abort();
    await this.active.get(id)?.done;
    for (const t of run.order) await this.deps.claims.release(t, this.runHolder(id));
    this.emit(run, 'cancelled');
    return this.get(id);
  }

  // ---------------------------------------------------------------- caller mode

  /**
   * The next node for the caller (claimed for `holder` until it reports back or its session
   * ends), the root's synthesis when every node is done, or undefined when nothing is ready.
   */
  async nextForCaller(id: string, holder: string, label: string): Promise<CallerNode | undefined> {
    const run = await this.get(id);
    if (run.options.mode !== 'caller')
      throw new AppError('INVALID_INPUT', `Run ${id} runs its own workers`, {
        hint: 'Watch it with tasks_run_status',
      });
    if (ENDED_RUN.has(run.status)) return undefined;
    await this.applyDecisions(id);
    const now = this.deps.clock.now();
    const fresh = await this.update(id, (r) => {
      for (const n of skipUnreachable(r)) this.note(r, `${n.task} skipped: ${n.reason}`);
      return structuredClone(r);
    });
    const mine = fresh.order.find(
      (t) => fresh.nodes[t]!.state === 'running' && fresh.nodes[t]!.claim?.holder === holder,
    );
    const stale = fresh.order.filter((t) => {
      const n = fresh.nodes[t]!;
      return n.state === 'running' && (!n.claim || !leaseLive(n.claim, now));
    });
    for (const task of [...(mine ? [mine] : []), ...stale, ...readyNodes(fresh).map((n) => n.task)]) {
      const c = await this.deps.claims.claim(task, holder, label);
      if (!c.ok) continue;
      const { task: t } = await this.deps.tasks.get(task);
      if (t.status === 'ready' || t.status === 'draft')
        await this.deps.tasks.transition(task, 'active', `run ${id}`, label).catch(() => undefined);
      const after = await this.update(id, (r) => {
        const n = r.nodes[task]!;
        n.state = 'running';
        n.claim = { holder, expires_at: c.claim.expires_at };
        n.worker = label;
        n.started_at ??= this.now();
        return structuredClone(r);
      });
      const node = after.nodes[task]!;
      return {
        run_id: id,
        task,
        title: node.title,
        synthesis: false,
        ...(node.specialist ? { specialist: node.specialist } : {}),
        prompt: callerPrompt(
          after,
          node,
          t,
          node.specialist ? this.deps.archetypes.get(node.specialist) : undefined,
        ),
        attempt: node.attempts.length + 1,
      };
    }
    const nodes = fresh.order.map((t) => fresh.nodes[t]!);
    if (nodes.every((n) => CLOSED_NODE.has(n.state))) {
      const c = await this.deps.claims.claim(fresh.root, holder, label);
      if (!c.ok) return undefined;
      const { task: root } = await this.deps.tasks.get(fresh.root);
      return {
        run_id: id,
        task: fresh.root,
        title: fresh.title,
        synthesis: true,
        prompt: `${synthesisPrompt(fresh, root)}\n\nWhen done, call tasks_complete {task_id: "${fresh.root}", summary, detailed_work} with the synthesis.`,
        attempt: 1,
      };
    }
    if (nodes.some((n) => n.state === 'blocked') && fresh.status !== 'waiting_for_human')
      await this.update(id, (r) => {
        r.status = 'waiting_for_human';
      });
    return undefined;
  }

  /** The caller-mode run a task belongs to as an open node or synthesis, if any. */
  async callerRunOf(taskId: string): Promise<Run | undefined> {
    return this.deps.runs.read((d) => {
      const r = Object.values(d.runs).find(
        (x) =>
          x.options.mode === 'caller' &&
          (x.status === 'running' || x.status === 'waiting_for_human') &&
          (x.nodes[taskId] !== undefined || x.root === taskId),
      );
      return r ? structuredClone(r) : undefined;
    });
  }

  /**
   * A caller's report on a node of a caller-mode run: graded (code graders), reviewed by the
   * leader when the node is critical, then completed through the task's gates. A refusal counts
   * as an attempt; past the retries the node is blocked for a human.
   * @throws AppError GATE_FAILED with the reasons (the node stays open), CONFLICT when another
   *   holder has the node.
   */
  async completeFromCaller(
    run: Run,
    taskId: string,
    input: CompleteInput,
    holder: string,
    actor: string,
    signal?: AbortSignal,
  ): Promise<{ next?: CallerNode; run: Run; done: Awaited<ReturnType<TaskService['complete']>> }> {
    const claim = await this.deps.claims.holderOf(taskId);
    if (claim && claim.holder !== holder)
      throw new AppError('CONFLICT', `${taskId} is claimed by ${claim.label} in run ${run.id}`, {
        hint: 'Take the next node with tasks_run {resume: run_id}',
      });
    if (taskId === run.root) {
      const done = await this.deps.tasks.complete(taskId, input, actor, signal);
      const after = await this.update(run.id, (r) => {
        r.synthesis = {
          state: 'done',
          output: trimResult(input.detailed_work ?? input.summary ?? '', RESULT_CHARS),
          cost_usd: 0,
        };
        r.status = 'completed';
        r.finished_at = this.now();
        this.note(r, `completed: ${r.root} synthesised by ${actor}`);
        return structuredClone(r);
      });
      await this.deps.claims.release(taskId);
      this.emit(after, 'completed');
      return { run: after, done };
    }
    const node = run.nodes[taskId]!;
    const { task } = await this.deps.tasks.get(taskId);
    const text =
      input.detailed_work ??
      input.summary ??
      (input.result !== undefined ? JSON.stringify(input.result) : '');
    const evaluation = grade(text, defaultGraders(false, 'off'), undefined, this.deps.graded.agents.schemas);
    const n = node.attempts.length + 1;
    let reasons = evaluation.graders.filter((g) => !g.pass).map((g) => `${g.grader}: ${g.reason}`);
    let review: Attempt['review'];
    if (reasons.length === 0 && this.needsReview(run, node, { status: 'active' })) {
      review = await this.review(run, node, task, text, signal ?? new AbortController().signal);
      if (!review.approve) reasons = review.reasons.map((x) => `review: ${x}`);
    }
    const record = async (pass: boolean, why: string[]) =>
      this.update(run.id, (r) => {
        const x = r.nodes[taskId]!;
        x.attempts.push({
          n,
          worker: actor,
          at: this.now(),
          pass,
          reasons: why,
          cost_usd: review?.cost_usd ?? 0,
          latency_ms: 0,
          ...(review ? { review } : {}),
        });
        r.spent_usd = Number((r.spent_usd + (review?.cost_usd ?? 0)).toFixed(6));
        if (!pass) this.note(r, `${taskId}: ${actor}'s answer refused: ${why.join('; ').slice(0, 300)}`);
      });
    let done: Awaited<ReturnType<TaskService['complete']>> | undefined;
    if (reasons.length === 0) {
      try {
        done = await this.deps.tasks.complete(
          taskId,
          { ...input, note: input.note ?? `completed in run ${run.id} by ${actor}` },
          actor,
          signal,
        );
      } catch (error) {
        if (error instanceof AppError && error.code === 'GATE_FAILED') reasons = gateViolations(error);
        else throw error;
      }
    }
    if (reasons.length > 0 || !done) {
      await record(false, reasons);
      const fails = (await this.get(run.id)).nodes[taskId]!.attempts.slice(node.since ?? 0).filter(
        (a) => !a.pass,
      ).length;
      if (fails > run.options.retries) await this.block(run.id, taskId, [`refused ${fails} time(s)`], actor);
      throw new AppError('GATE_FAILED', `Run ${run.id} did not accept ${taskId}: ${reasons.join('; ')}`, {
        hint:
          fails > run.options.retries
            ? `The node is blocked for a human (inbox); take the next node with tasks_run {resume: "${run.id}"}`
            : 'Fix what the reasons say and call tasks_complete again',
        details: { violations: reasons, run_id: run.id },
      });
    }
    await record(true, []);
    const after = await this.update(run.id, (r) => {
      const x = r.nodes[taskId]!;
      x.state = 'done';
      x.output = trimResult(text, RESULT_CHARS);
      x.claim = undefined;
      x.finished_at = this.now();
      this.note(r, `${taskId} done by ${actor}`);
      return structuredClone(r);
    });
    await this.deps.claims.release(taskId);
    this.emit(after, `${taskId} done`);
    const next = await this.nextForCaller(run.id, holder, actor);
    return { run: await this.get(run.id), done, ...(next ? { next } : {}) };
  }

  /** Stops local loops (their leases lapse; another process may resume). */
  async close(): Promise<void> {
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    if (this.adoptTimer) clearInterval(this.adoptTimer);
    this.leaseTimer = undefined;
    this.adoptTimer = undefined;
    const all = [...this.active.values()];
    for (const a of all) a.controller.abort();
    await Promise.allSettled(all.map((a) => a.done));
  }
}

function resultText(t: Task): string {
  return t.result !== undefined ? JSON.stringify(t.result) : (t.summary ?? '');
}
