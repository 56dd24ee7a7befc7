/** When a node fails: retry with the reasons, reassign, or block it for a human; and the human's decisions. */
import { CLOSED } from '../../tasks/model.js';
import type { RunStore } from './runStore.js';
import type { SupervisorDeps } from './types.js';

export class FailurePolicy {
  constructor(
    readonly deps: SupervisorDeps,
    private readonly store: RunStore,
  ) {}

  /** Retry with the same worker, reassign to the next, or block for a human. */
  async afterFailure(id: string, taskId: string, worker: string, actor: string): Promise<void> {
    const run = await this.store.get(id);
    const node = run.nodes[taskId]!;
    const since = node.attempts.slice(node.since ?? 0);
    const byWorker = since.filter((a) => a.worker === worker).length;
    if (byWorker <= run.options.retries) {
      await this.store.update(id, (r) => {
        const n = r.nodes[taskId]!;
        n.state = 'ready';
        n.claim = undefined;
        this.store.note(
          r,
          `${taskId}: retry ${byWorker} of ${r.options.retries} with ${worker}, reasons fed back`,
        );
      });
      await this.deps.claims.release(taskId);
      return;
    }
    await this.store.update(id, (r) => {
      const n = r.nodes[taskId]!;
      if (worker && !n.excluded.includes(worker)) n.excluded.push(worker);
      n.state = 'ready';
      n.claim = undefined;
      this.store.note(r, `${taskId}: ${worker} failed it ${byWorker} time(s); reassigning`);
    });
    await this.deps.claims.release(taskId);
    this.store.emit(run, `${taskId} reassigned`);
    void actor;
  }

  /** No worker left (or it cannot start): the task is blocked and a human decides in the inbox. */
  async block(id: string, taskId: string, reasons: string[], actor: string, summary?: string): Promise<void> {
    const run = await this.store.get(id);
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
    const after = await this.store.update(id, (r) => {
      const n = r.nodes[taskId]!;
      n.state = 'blocked';
      n.claim = undefined;
      n.pending = undefined;
      n.inbox_id = inboxId;
      n.reason = reasons.join('; ').slice(0, 500);
      this.store.note(r, `${taskId} blocked: ${n.reason}; a human decides in the inbox (${inboxId})`);
      return structuredClone(r);
    });
    await this.deps.claims.release(taskId);
    this.store.emit(after, `${taskId} blocked (inbox ${inboxId})`);
  }

  /** A human's inbox decisions on blocked nodes: approved -> retried with fresh workers; rejected -> skipped. */
  async applyDecisions(id: string): Promise<void> {
    const blocked = await this.deps.runs.read((d) =>
      Object.values(d.runs[id]?.nodes ?? {})
        .filter((n) => n.state === 'blocked' && n.inbox_id)
        .map((n) => ({ task: n.task, inbox: n.inbox_id! })),
    );
    for (const b of blocked) {
      const item = await this.deps.inbox.get(b.inbox).catch(() => undefined);
      if (!item || item.status === 'pending' || item.status === 'expired') continue;
      const approved = item.status === 'executed' || item.status === 'approved';
      const applied = await this.store.update(id, (r) => {
        const n = r.nodes[b.task]!;
        if (n.state !== 'blocked' || n.inbox_id !== b.inbox) return false;
        n.inbox_id = undefined;
        if (approved) {
          n.state = 'ready';
          n.excluded = [];
          n.since = n.attempts.length;
          n.reason = undefined;
          this.store.note(r, `${b.task}: ${item.decided_by ?? 'a human'} approved a retry`);
        } else {
          n.state = 'skipped';
          n.reason = `rejected by ${item.decided_by ?? 'a human'}: ${item.decision_reason ?? ''}`;
          this.store.note(r, `${b.task} skipped: ${n.reason}`);
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
}
