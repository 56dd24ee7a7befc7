/** One node's execution: a worker's graded answer, started early on answers still being judged, recorded, reviewed, completed through its gates; starting the dependents it makes ready. */
import { createHash } from 'node:crypto';
import type { ProviderName } from '../../agents/providers/types.js';
import { AppError } from '../../core/errors.js';
import type { CompleteInput } from '../../tasks/completion.js';
import { gateViolations } from '../../tasks/completion.js';
import type { Task } from '../../tasks/model.js';
import { gradedRun } from '../../spawning/gradedRun.js';
import { taskText, DEPENDENCY_CHARS, WORKER_SYSTEM, workerPrompt } from '../prompts.js';
import { readyNodes, trimResult } from '../runModel.js';
import type { Attempt, Run, RunNode } from '../runModel.js';
import type { RunStore } from './runStore.js';
import type { WorkerChoice } from './workerChoice.js';
import type { FailurePolicy } from './failurePolicy.js';
import type { Leader } from './leader.js';
import { RESULT_CHARS, SHORT_RESULT, resultText } from './types.js';
import type { SupervisorDeps, Worker } from './types.js';
import { ActiveRun } from './activeRun.js';

export class NodeRunner {
  constructor(
    readonly deps: SupervisorDeps,
    private readonly store: RunStore,
    private readonly workers: WorkerChoice,
    private readonly failure: FailurePolicy,
    private readonly leader: Leader,
    private readonly active: Map<string, ActiveRun>,
  ) {}

  /** Runs one node; the records of its graded call are written meanwhile and awaited at its end. */
  async execNode(id: string, taskId: string, signal: AbortSignal): Promise<void> {
    const afterwards: Array<Promise<void>> = [];
    const active = this.active.get(id);
    const speculation = active?.speculative.get(taskId);
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
      await this.store.recorded(id, taskId, afterwards);
      active?.speculative.delete(taskId);
      if (active?.provisional.has(taskId)) {
        active.provisional.delete(taskId);
        const state = await this.store.get(id).then(
          (r) => r.nodes[taskId]?.state,
          () => undefined,
        );
        settle(state === 'done');
        // Its answer failed after all: what started on it is stopped and waits again.
        if (state !== 'done')
          for (const s of active.speculative.values()) if (s.parents.includes(taskId)) s.controller.abort();
      }
      if (speculation?.controller.signal.aborted && !signal.aborted) await this.putBack(id, taskId);
    }
  }

  /** A dependent started on an answer that then failed: back to waiting, its claim let go. */
  private async putBack(id: string, taskId: string): Promise<void> {
    await this.store
      .update(id, (r) => {
        const n = r.nodes[taskId];
        if (!n || n.state !== 'running') return;
        n.state = 'waiting';
        n.claim = undefined;
        this.store.note(r, `${taskId}: stopped, an answer it built on failed its judges; it waits again`);
      })
      .catch(() => undefined);
    await this.deps.claims.release(taskId, this.store.runHolder(id)).catch(() => undefined);
  }

  /**
   * Starts the dependents of `taskId`, whose answer passed its code graders and waits for its
   * judges, that need nothing else: they work on the answer meanwhile and record nothing before
   * it is done (execNode stops them and puts them back if it fails).
   */
  private async speculate(id: string, taskId: string): Promise<void> {
    const active = this.active.get(id);
    const launcher = active?.slots;
    if (!active || !launcher || active.budgetStop) return;
    // A long answer reaches its dependents as the leader's summary, made once it is done.
    if ((active.provisional.get(taskId)?.output.length ?? Infinity) > DEPENDENCY_CHARS) return;
    const provisionalHere = (t: string) => active.provisional.has(t);
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
    const holder = this.store.runHolder(id);
    let started: string[] = [];
    const outcomes = await this.deps.claims.claimAll(next, holder, `run ${id}`);
    const claimed = next.filter((_, i) => outcomes[i]!.ok);
    await this.store
      .update(id, (r) => {
        started = claimed.filter((t) => r.nodes[t]!.state === 'waiting' || r.nodes[t]!.state === 'ready');
        this.store.markClaimed(r, started, true, now);
        if (started.length)
          this.store.note(r, `${started.join(', ')} started on ${taskId}'s answer while its judges vote`);
      })
      .catch((error: unknown) => {
        launcher.give(room);
        throw error;
      });
    for (const task of claimed)
      if (!started.includes(task)) void this.deps.claims.release(task, holder).catch(() => undefined);
    launcher.give(room - started.length);
    const stored = started.length ? await this.store.get(id) : undefined;
    for (const task of started) {
      const parents = stored!.nodes[task]!.depends_on.map((d) => d.task).filter(provisionalHere);
      active.speculative.set(task, { controller: new AbortController(), parents });
      if (active.slots === launcher) launcher.launch(task);
      else {
        active.speculative.delete(task);
        await this.putBack(id, task);
      }
    }
  }

  private async runNode(
    id: string,
    taskId: string,
    signal: AbortSignal,
    afterwards: Array<Promise<void>>,
    done: Promise<boolean>,
  ): Promise<void> {
    // Driven here (a throwaway when the run stopped meanwhile: nothing then waits on it).
    const active = this.active.get(id) ?? new ActiveRun();
    const stored = await this.store.get(id);
    // Started on answers still waiting for their judges: they count as its inputs here.
    const onAnswers = stored.nodes[taskId]!.depends_on.map((d) => d.task).filter(
      (t) => stored.nodes[t]?.state !== 'done' && active.provisional.has(t),
    );
    const parents = onAnswers.map((t) => active.provisional.get(t)!);
    const run = onAnswers.length ? structuredClone(stored) : stored;
    for (const t of onAnswers) {
      run.nodes[t]!.output = trimResult(active.provisional.get(t)!.output, RESULT_CHARS);
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
        await this.failure.block(
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
      const options = await this.workers.candidates(run, node, task.output_schema !== undefined);
      const last = node.attempts.slice(node.since ?? 0).at(-1);
      const worker =
        (last && !last.pass ? options.find((w) => w.id === last.worker) : undefined) ?? options[0];
      if (!worker) {
        await starting;
        await this.failure.block(
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
      const prompt = workerPrompt(await this.leader.digestInputs(run, node, signal), node, task);
      const n = node.attempts.length + 1;
      const cacheKey = this.cacheKey(run, node, task, worker.id);
      const cached = cacheKey ? await this.deps.cache.read((d) => d.entries[cacheKey]?.output) : undefined;
      if (cached !== undefined) {
        await this.recordAttempt(id, taskId, {
          attempt: {
            n,
            worker: worker.id,
            at: this.store.now(),
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
        const worst = this.workers.worstCost(
          worker.provider,
          worker.model,
          prompt.length + 2000,
          run.options.max_tokens,
        );
        const reservedNow = active.reserved;
        if (
          run.options.max_cost_usd !== undefined &&
          run.spent_usd + reservedNow + worst > run.options.max_cost_usd
        ) {
          active.budgetStop = true;
          await this.store.update(id, (r) => {
            const x = r.nodes[taskId]!;
            x.state = 'ready';
            x.claim = undefined;
            this.store.note(
              r,
              `budget: ${taskId} not started (spent $${r.spent_usd.toFixed(4)}, a call may cost $${worst.toFixed(4)}, max $${r.options.max_cost_usd})`,
            );
          });
          await this.deps.claims.release(taskId, this.store.runHolder(id));
          return;
        }
        active.reserved += worst;
        let attempt: Attempt;
        let value: unknown;
        let output = '';
        try {
          const graded = await gradedRun(
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
              judgeLater: !this.workers.needsReview(run, node, worker) && !run.options.cache,
            },
          );
          output = graded.output;
          value = graded.json?.value;
          let evaluation = graded.evaluation;
          if (graded.verdict) {
            let known: (done: boolean) => void = () => undefined;
            const settled = new Promise<boolean>((resolve) => (known = resolve));
            void done.then(known);
            active.provisional.set(taskId, { output, done: settled });
            const launcher = active.slots;
            launcher?.judging(taskId, true);
            try {
              await this.speculate(id, taskId).catch((error: unknown) =>
                this.deps.logger.warn('run: could not start dependents early', {
                  run: id,
                  task: taskId,
                  error,
                }),
              );
              evaluation = await graded.verdict;
            } finally {
              launcher?.judging(taskId, false);
            }
          }
          const failing = evaluation.graders.filter((g) => !g.pass).map((g) => `${g.grader}: ${g.reason}`);
          attempt = {
            n,
            worker: worker.id,
            at: this.store.now(),
            pass: evaluation.pass,
            reasons: failing,
            trial_id: graded.trial_id,
            cost_usd: Number((graded.cost_usd + (evaluation.judge_cost_usd ?? 0)).toFixed(6)),
            latency_ms: graded.latency_ms,
          };
        } catch (error) {
          if (signal.aborted) return;
          const e = error instanceof AppError ? error : new AppError('INTERNAL', String(error));
          if (e.code === 'IMMUNE_BLOCKED' || e.code === 'BUDGET_EXCEEDED' || e.code === 'NO_PROVIDER') {
            await starting;
            await this.failure.block(id, taskId, [e.message], actor);
            return;
          }
          attempt = {
            n,
            worker: worker.id,
            at: this.store.now(),
            pass: false,
            reasons: [e.message],
            trial_id: e.details?.trial_id as string | undefined,
            cost_usd: 0,
            latency_ms: 0,
          };
        } finally {
          active.reserved = Math.max(0, active.reserved - worst);
        }
        // Built on answers whose judges were voting: nothing is recorded before they are done.
        for (const parent of parents) if (!(await parent.done)) return;
        if (signal.aborted) return;
        // An answer the leader reviews is recorded at once (a resumed run continues from it). One
        // that goes straight to the gates is recorded with the node's completion: until the task
        // completes (durably, with the answer as its result) a restart asks again.
        if (!attempt.pass || this.workers.needsReview(run, node, worker))
          recording = this.recordAttempt(id, taskId, {
            attempt,
            ...(attempt.pass ? { pending: { output, value, worker: worker.id, attempt: n } } : {}),
          });
        else deferred = attempt;
        if (!attempt.pass) {
          await Promise.all([recording, starting]);
          await this.failure.afterFailure(id, taskId, worker.id, actor);
          return;
        }
        answer = { output, value, worker, attempt: n };
      }
    }
    await starting;
    if (signal.aborted) return;
    // Review by the leader: limited workers' outputs and critical nodes are not final before it.
    const fresh = await this.store.get(id);
    const current = fresh.nodes[taskId]!;
    if (this.workers.needsReview(fresh, current, answer.worker ?? { status: 'limited' })) {
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
      const review = await this.leader.review(fresh, current, task, answer.output, signal);
      await this.store.update(id, (r) => {
        const a = r.nodes[taskId]!.attempts.find((x) => x.n === answer.attempt);
        if (a) a.review = review;
        r.spent_usd = Number((r.spent_usd + review.cost_usd).toFixed(6));
        if (!review.approve) {
          r.nodes[taskId]!.pending = undefined;
          if (a) {
            a.pass = false;
            a.reasons = review.reasons.map((x) => `review: ${x}`);
          }
          this.store.note(
            r,
            `${taskId}: the leader rejected ${answer.worker?.id ?? 'the'} answer: ${review.reasons.join('; ')}`,
          );
        }
      });
      if (!review.approve) {
        await this.failure.afterFailure(
          id,
          taskId,
          answer.worker?.id ?? current.pending?.worker ?? '',
          actor,
        );
        return;
      }
    }
    await this.finishNode(
      id,
      task,
      { output: answer.output, value: answer.value, worker: answer.worker?.id },
      { actor, signal, recording, deferred },
    );
  }

  private async recordAttempt(
    id: string,
    taskId: string,
    r: { attempt: Attempt; pending?: RunNode['pending'] },
  ): Promise<void> {
    await this.store.update(id, (run) => this.applyAttempt(run, taskId, r.attempt, r.pending));
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
      this.store.note(
        run,
        `${taskId}: attempt ${attempt.n} by ${attempt.worker} failed: ${attempt.reasons.join('; ').slice(0, 300)}`,
      );
  }

  /** Completes the task through its gates; a gate failure counts as the worker's failure. */
  /**
   * Completes a node's task with its accepted answer (through the task's gates) and records the
   * node done. `recording`: the answer's record being written; `deferred`: an attempt recorded
   * with the completion.
   */
  private async finishNode(
    id: string,
    task: Task,
    answer: { output: string; value: unknown; worker?: string | undefined },
    how: {
      actor: string;
      signal: AbortSignal;
      recording?: Promise<void> | undefined;
      deferred?: Attempt | undefined;
    },
  ): Promise<void> {
    const taskId = task.id;
    const { output, value, worker } = answer;
    const { actor, signal, recording, deferred } = how;
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
      await this.store.update(id, (r) => {
        if (deferred) this.applyAttempt(r, taskId, deferred);
        const n = r.nodes[taskId]!;
        n.pending = undefined;
        const a = n.attempts.at(-1);
        if (a) {
          a.pass = false;
          a.reasons = reasons.map((x) => `gate: ${x}`);
        }
        this.store.note(r, `${taskId}: gates refused the answer: ${reasons.join('; ').slice(0, 300)}`);
      });
      await this.failure.afterFailure(id, taskId, worker ?? '', actor);
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
          d.entries[key] = { output, worker, at: this.store.now() };
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
    const active = this.active.get(id);
    const launcher = active?.slots;
    const wanted =
      launcher && !active.budgetStop
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
    const holder = this.store.runHolder(id);
    let started: string[] = [];
    const [outcomes, run] = await Promise.all([
      this.deps.claims.claimAll(next, holder, `run ${id}`),
      this.store.update(id, (r) => {
        if (attempt) this.applyAttempt(r, taskId, attempt);
        const n = r.nodes[taskId]!;
        n.state = 'done';
        n.output = trimResult(result, RESULT_CHARS);
        n.pending = undefined;
        n.claim = undefined;
        n.finished_at = this.store.now();
        this.store.note(r, `${taskId} done${worker ? ` by ${worker}` : ''}`);
        // Still ready under the lock (nothing else started them meanwhile).
        const ready = new Set(readyNodes(r).map((x) => x.task));
        started = next.filter((task) => ready.has(task));
        this.store.markClaimed(r, started, true, now);
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
      await this.store.update(id, (r) => this.store.markClaimed(r, refused, false, now));
    for (const task of next)
      if (!started.includes(task) && outcomes[next.indexOf(task)]!.ok)
        void this.deps.claims.release(task, holder).catch(() => undefined);
    const launching = started.filter((task) => !refused.includes(task));
    launcher?.give(room - launching.length);
    if (launcher && active.slots === launcher) for (const task of launching) launcher.launch(task);
    else if (launching.length > 0)
      // The loop stopped meanwhile (cancelled, lease lost): leave them for whoever drives next.
      await this.store
        .update(id, (r) => this.store.markClaimed(r, launching, false, now))
        .then(() => Promise.all(launching.map((task) => this.deps.claims.release(task, holder))));
    void this.deps.claims
      .release(taskId)
      .catch((error: unknown) => this.deps.logger.warn('claim release failed', { task: taskId, error }));
    this.store.emit(run, `${taskId} done`);
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
}
