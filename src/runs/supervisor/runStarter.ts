/** Starting a run: its nodes, schedule and estimate (a dry run stops there), first-use interviews, then the driver. */
import { interviewWorstCost } from '../../agents/workers.js';
import { AppError } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import { CLOSED } from '../../tasks/model.js';
import type { Task } from '../../tasks/model.js';
import { taskText } from '../prompts.js';
import {
  CLOSED_NODE,
  criticalPath,
  ENDED_RUN,
  RUN_DEFAULTS,
  schedulePreview,
  trimResult,
} from '../runModel.js';
import type { Run, RunNode, RunOptions } from '../runModel.js';
import type { RunStore } from './runStore.js';
import type { WorkerChoice } from './workerChoice.js';
import type { Driver } from './driver.js';
import { LEASE_MS, RESULT_CHARS, resultText } from './types.js';
import type { SupervisorDeps, StartRequest, PlannedInterview, RunPreview } from './types.js';

export class RunStarter {
  constructor(
    readonly deps: SupervisorDeps,
    private readonly store: RunStore,
    private readonly workers: WorkerChoice,
    private readonly driver: Driver,
  ) {}

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
    const at = this.store.now();
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
    const leader = this.workers.leaderOf(run);
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
      const assumed = interviews[0] && this.workers.asWorker(interviews[0].worker);
      for (const id of run.order) {
        const node = run.nodes[id]!;
        if (CLOSED_NODE.has(node.state)) continue;
        const t = leaves.find((x) => x.id === id)!;
        const best = (await this.workers.candidates(run, node, t.output_schema !== undefined))[0] ?? assumed;
        workers[id] = best ? `${best.id}${best === assumed ? ' (after its interview)' : ''}` : null;
        if (best) {
          estimate += this.workers.worstCost(
            best.provider,
            best.model,
            taskText(t).length + 1500,
            options.max_tokens,
          );
          if (this.workers.needsReview(run, node, best)) {
            reviewed.push(id);
            if (leader?.provider)
              estimate += this.workers.worstCost(
                leader.provider,
                leader.model ?? '',
                taskText(t).length + 3000,
                800,
              );
          }
        }
      }
      if (leader?.provider)
        estimate += this.workers.worstCost(
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
        run.lease = { owner: this.store.owner, expires_at: this.deps.clock.now() + LEASE_MS };
      d.runs[run.id] = run;
      // Keep the document bounded: the oldest finished runs go first.
      const finished = Object.values(d.runs)
        .filter((r) => ENDED_RUN.has(r.status))
        .sort((a, b) => a.created_at.localeCompare(b.created_at));
      while (Object.keys(d.runs).length > 200 && finished.length) delete d.runs[finished.shift()!.id];
    });
    if (options.mode === 'agents') await this.driver.drive(run.id, actor);
    return { ...preview, run: await this.store.get(run.id) };
  }

  /** The configured models (or the run's `workers`) not interviewed yet, with what each interview may cost. */
  private plannedInterviews(options: RunOptions, interviewed: ReadonlySet<string>): PlannedInterview[] {
    const configured = new Set(this.deps.spawn.targetsAvailable.map((t) => t.name as string));
    const wanted =
      options.workers ?? this.deps.spawn.targetsAvailable.map((t) => `${t.name}/${t.defaultModel}`);
    return [...new Set(wanted)]
      .filter((w) => !interviewed.has(w) && configured.has(w.split('/')[0]!))
      .map((worker) => {
        const { provider, model } = this.workers.asWorker(worker);
        return {
          worker,
          worst_usd: Number(interviewWorstCost(this.deps.pricing, provider, model).toFixed(6)),
        };
      });
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
      const { provider, model } = this.workers.asWorker(i.worker);
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
    const run = await this.store.update(preview.run.id, (r) => {
      r.options.max_cost_usd = req.max_cost_usd;
      r.spent_usd = Number((r.spent_usd + spent).toFixed(6));
      for (const n of notes) this.store.note(r, n);
      return structuredClone(r);
    });
    return { ...preview, run, estimate_usd: Number((preview.estimate_usd + spent).toFixed(6)) };
  }
}
