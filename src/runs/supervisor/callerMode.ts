/** Caller mode: the MCP caller does the nodes one by one and reports with tasks_complete. */
import { AppError } from '../../core/errors.js';
import { grade } from '../../evaluation/graders/pipeline.js';
import { leaseLive } from '../../tasks/claims.js';
import type { CompleteInput } from '../../tasks/completion.js';
import { gateViolations } from '../../tasks/completion.js';
import type { TaskService } from '../../tasks/taskService.js';
import { defaultGraders } from '../../spawning/gradedRun.js';
import { callerPrompt, synthesisPrompt } from '../prompts.js';
import { CLOSED_NODE, ENDED_RUN, readyNodes, skipUnreachable, trimResult } from '../runModel.js';
import type { Attempt, Run } from '../runModel.js';
import type { RunStore } from './runStore.js';
import type { WorkerChoice } from './workerChoice.js';
import type { FailurePolicy } from './failurePolicy.js';
import type { Leader } from './leader.js';
import { RESULT_CHARS } from './types.js';
import type { SupervisorDeps, CallerNode } from './types.js';

export class CallerMode {
  constructor(
    readonly deps: SupervisorDeps,
    private readonly store: RunStore,
    private readonly workers: WorkerChoice,
    private readonly failure: FailurePolicy,
    private readonly leader: Leader,
  ) {}

  /**
   * The next node for the caller (claimed for `holder` until it reports back or its session
   * ends), the root's synthesis when every node is done, or undefined when nothing is ready.
   */
  async nextForCaller(id: string, holder: string, label: string): Promise<CallerNode | undefined> {
    const run = await this.store.get(id);
    if (run.options.mode !== 'caller')
      throw new AppError('INVALID_INPUT', `Run ${id} runs its own workers`, {
        hint: 'Watch it with tasks_run_status',
      });
    if (ENDED_RUN.has(run.status)) return undefined;
    await this.failure.applyDecisions(id);
    const now = this.deps.clock.now();
    const fresh = await this.store.update(id, (r) => {
      for (const n of skipUnreachable(r)) this.store.note(r, `${n.task} skipped: ${n.reason}`);
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
      const after = await this.store.update(id, (r) => {
        const n = r.nodes[task]!;
        n.state = 'running';
        n.claim = { holder, expires_at: c.claim.expires_at };
        n.worker = label;
        n.started_at ??= this.store.now();
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
      await this.store.update(id, (r) => {
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
      const after = await this.store.update(run.id, (r) => {
        r.synthesis = {
          state: 'done',
          output: trimResult(input.detailed_work ?? input.summary ?? '', RESULT_CHARS),
          cost_usd: 0,
        };
        r.status = 'completed';
        r.finished_at = this.store.now();
        this.store.note(r, `completed: ${r.root} synthesised by ${actor}`);
        return structuredClone(r);
      });
      await this.deps.claims.release(taskId);
      this.store.emit(after, 'completed');
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
    if (reasons.length === 0 && this.workers.needsReview(run, node, { status: 'active' })) {
      review = await this.leader.review(run, node, task, text, signal ?? new AbortController().signal);
      if (!review.approve) reasons = review.reasons.map((x) => `review: ${x}`);
    }
    const record = async (pass: boolean, why: string[]) =>
      this.store.update(run.id, (r) => {
        const x = r.nodes[taskId]!;
        x.attempts.push({
          n,
          worker: actor,
          at: this.store.now(),
          pass,
          reasons: why,
          cost_usd: review?.cost_usd ?? 0,
          latency_ms: 0,
          ...(review ? { review } : {}),
        });
        r.spent_usd = Number((r.spent_usd + (review?.cost_usd ?? 0)).toFixed(6));
        if (!pass)
          this.store.note(r, `${taskId}: ${actor}'s answer refused: ${why.join('; ').slice(0, 300)}`);
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
      const fails = (await this.store.get(run.id)).nodes[taskId]!.attempts.slice(node.since ?? 0).filter(
        (a) => !a.pass,
      ).length;
      if (fails > run.options.retries)
        await this.failure.block(run.id, taskId, [`refused ${fails} time(s)`], actor);
      throw new AppError('GATE_FAILED', `Run ${run.id} did not accept ${taskId}: ${reasons.join('; ')}`, {
        hint:
          fails > run.options.retries
            ? `The node is blocked for a human (inbox); take the next node with tasks_run {resume: "${run.id}"}`
            : 'Fix what the reasons say and call tasks_complete again',
        details: { violations: reasons, run_id: run.id },
      });
    }
    await record(true, []);
    const after = await this.store.update(run.id, (r) => {
      const x = r.nodes[taskId]!;
      x.state = 'done';
      x.output = trimResult(text, RESULT_CHARS);
      x.claim = undefined;
      x.finished_at = this.store.now();
      this.store.note(r, `${taskId} done by ${actor}`);
      return structuredClone(r);
    });
    await this.deps.claims.release(taskId);
    this.store.emit(after, `${taskId} done`);
    const next = await this.nextForCaller(run.id, holder, actor);
    return { run: await this.store.get(run.id), done, ...(next ? { next } : {}) };
  }
}
