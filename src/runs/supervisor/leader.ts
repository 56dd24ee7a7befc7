/** The leader's calls: reviews of answers, summaries of long results for dependents, nodes it adds, the synthesis of the root. */
import type { ProviderName } from '../../agents/providers/types.js';
import { AppError } from '../../core/errors.js';
import { gateViolations } from '../../tasks/completion.js';
import type { Task } from '../../tasks/model.js';
import { defaultGraders, gradedRun } from '../../spawning/gradedRun.js';
import {
  REVIEW_SCHEMA,
  reviewPrompt,
  synthesisPrompt,
  DEPENDENCY_CHARS,
  DIGEST_CHARS,
  digestPrompt,
} from '../prompts.js';
import { trimResult } from '../runModel.js';
import type { Run, RunNode } from '../runModel.js';
import type { RunStore } from './runStore.js';
import type { WorkerChoice } from './workerChoice.js';
import type { FailurePolicy } from './failurePolicy.js';
import { RESULT_CHARS, PARTLY_DONE_TAG } from './types.js';
import type { SupervisorDeps } from './types.js';
import type { ActiveRun } from './activeRun.js';

export class Leader {
  constructor(
    readonly deps: SupervisorDeps,
    private readonly store: RunStore,
    private readonly workers: WorkerChoice,
    private readonly failure: FailurePolicy,
    private readonly active: Map<string, ActiveRun>,
  ) {}

  async review(
    run: Run,
    node: RunNode,
    task: Task,
    output: string,
    signal: AbortSignal,
  ): Promise<Run['nodes'][string]['attempts'][number]['review'] & object> {
    const leader = this.workers.leaderOf(run);
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
      const graded = await gradedRun(
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
      const v = graded.json?.value as
        | { approve?: boolean; reasons?: string[]; add?: Array<{ title: string; description?: string }> }
        | undefined;
      if (!v || typeof v.approve !== 'boolean')
        return {
          by: `${graded.provider}/${graded.model}`,
          approve: false,
          reasons: ['the review was not valid JSON'],
          cost_usd: graded.cost_usd,
        };
      if (v.add?.length && canAdd) await this.addNodes(run.id, node.task, v.add, output);
      return {
        by: `${graded.provider}/${graded.model}`,
        approve: v.approve,
        reasons: v.reasons ?? [],
        cost_usd: graded.cost_usd,
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
  async digestInputs(run: Run, node: RunNode, signal: AbortSignal): Promise<Run> {
    const long = node.depends_on
      .filter((d) => d.kind === 'data')
      .map((d) => run.nodes[d.task])
      .filter((dep): dep is RunNode => !!dep?.output && dep.output.length > DEPENDENCY_CHARS && !dep.digest);
    const leader = this.workers.leaderOf(run);
    if (long.length === 0 || !leader?.provider) return run;
    const digests = this.active.get(run.id)?.digests ?? new Map<string, Promise<boolean>>();
    const made = await Promise.all(
      long.map((dep) => {
        let pending = digests.get(dep.task);
        if (!pending) {
          pending = this.digest(run, dep, leader, signal).finally(() => digests.delete(dep.task));
          digests.set(dep.task, pending);
        }
        return pending;
      }),
    );
    return made.some(Boolean) ? this.store.get(run.id) : run;
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
      const graded = await gradedRun(
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
      const text = graded.output.trim();
      const cost = graded.cost_usd + (graded.evaluation.judge_cost_usd ?? 0);
      await this.store.update(run.id, (x) => {
        x.spent_usd = Number((x.spent_usd + cost).toFixed(6));
        const n = x.nodes[dep.task]!;
        if (graded.evaluation.pass && text && !n.digest) {
          n.digest = {
            text: text.slice(0, DIGEST_CHARS),
            by: `${graded.provider}/${graded.model}`,
            cost_usd: cost,
          };
          this.store.note(
            x,
            `${dep.task}: its ${dep.output?.length ?? 0}-character result summarised for its dependents by ${graded.provider}/${graded.model}`,
          );
        }
      });
      return graded.evaluation.pass && text.length > 0;
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
    const run = await this.store.get(id);
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
    await this.store.update(id, (r) => {
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
        this.store.note(
          r,
          `the leader added ${added.length} node(s) after ${after}: ${added.map((a) => `${a.task.id}${a.gates.length ? ' (command gates: waits for a person)' : ''}`).join(', ')}`,
        );
      for (const why of refused) this.store.note(r, `the leader's added node was refused: ${why}`);
    });
    for (const { task, gates } of added.filter((a) => a.gates.length > 0))
      await this.failure.block(
        id,
        task.id,
        [
          `the leader added it after ${after}, with command gates that run on this machine: ${gates.join('; ').slice(0, 300)}`,
        ],
        `run ${id} leader`,
        `Run ${id}: let the leader's new node "${task.title.slice(0, 120)}" (${task.id}) run? Its command gates: ${gates.join('; ').slice(0, 200)}`,
      );
  }

  async synthesize(id: string, signal: AbortSignal): Promise<void> {
    const run = await this.store.get(id);
    const { task: root } = await this.deps.tasks.get(run.root);
    const leader = this.workers.leaderOf(run);
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
      const graded = await gradedRun(
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
      output = graded.output;
      trial = graded.trial_id;
      cost = graded.cost_usd + (graded.evaluation.judge_cost_usd ?? 0);
      if (!graded.evaluation.pass)
        throw new AppError(
          'GATE_FAILED',
          `the synthesis failed its graders: ${graded.evaluation.graders
            .filter((g) => !g.pass)
            .map((g) => g.reason)
            .join('; ')}`,
        );
      await starting;
      const recorded = this.store.recorded(id, run.root, afterwards);
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
      const after = await this.store.update(id, (stored) => {
        stored.synthesis = {
          state: 'done',
          output: trimResult(output, RESULT_CHARS),
          ...(trial ? { trial_id: trial } : {}),
          cost_usd: Number(cost.toFixed(6)),
        };
        stored.spent_usd = Number((stored.spent_usd + cost).toFixed(6));
        stored.status = missing.length ? 'partly_done' : 'completed';
        stored.finished_at = this.store.now();
        this.store.note(
          stored,
          missing.length
            ? `partly done: ${stored.root} synthesised; ${gap}`
            : `completed: ${stored.root} synthesised`,
        );
        return structuredClone(stored);
      });
      this.store.emit(after, after.status === 'partly_done' ? 'partly done' : 'completed');
    } catch (error) {
      await Promise.all([starting, this.store.recorded(id, run.root, afterwards)]);
      if (signal.aborted) return;
      const reason =
        error instanceof AppError && error.code === 'GATE_FAILED'
          ? gateViolations(error).join('; ') || error.message
          : error instanceof Error
            ? error.message
            : String(error);
      const after = await this.store.update(id, (stored) => {
        stored.synthesis = {
          state: 'failed',
          cost_usd: Number(cost.toFixed(6)),
          reason,
          ...(trial ? { trial_id: trial } : {}),
          ...(output ? { output: trimResult(output, RESULT_CHARS) } : {}),
        };
        stored.spent_usd = Number((stored.spent_usd + cost).toFixed(6));
        stored.status = 'waiting_for_human';
        this.store.note(
          stored,
          `synthesis failed: ${reason.slice(0, 300)}; every node is done: complete ${stored.root} with tasks_complete, or resume to try again`,
        );
        return structuredClone(stored);
      });
      this.store.emit(after, 'synthesis failed');
    }
  }
}
