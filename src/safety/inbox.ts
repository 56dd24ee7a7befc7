/**
 * The approval inbox: operations classified REQUIRES_APPROVAL wait here for a human. An item
 * records who asked (actor and session), what, why it needs approval, and when it expires.
 * Approvals belong to humans: through the terminal (`task-orchestrator approve`), through a form
 * the user answers in their client (MCP elicitation), or in HTTP mode by another verified subject;
 * never by the session or actor that asked. Approving claims the item and its single execution in
 * one locked write, so an approved action runs exactly once even when two approvals race; its
 * outcome is recorded on the item. Rejecting needs a reason. Expired items cannot be approved.
 */
import type { Clock } from '../core/clock.js';
import { isoTime } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { paginate } from '../core/pagination.js';
import type { Page, PageRequest } from '../core/pagination.js';
import type { DocumentStore } from '../storage/documentStore.js';
import type { ApprovalSink, CommandRunner, RunOutcome } from './commandRunner.js';
import type { Classification } from './classifier.js';

export type InboxStatus = 'pending' | 'approved' | 'rejected' | 'expired' | 'executed' | 'failed';

export interface CommandPayload {
  command: string;
  args: string[];
  cwd?: string | undefined;
  timeout_s?: number | undefined;
}

/** A node of a supervisor run that failed with every worker: approving retries it, rejecting skips it. */
export interface RunNodePayload {
  run_id: string;
  task: string;
  title: string;
}

interface InboxBase {
  id: string;
  requested_by: string;
  /** The MCP session that asked. */
  requested_session?: string;
  summary: string;
  verdict: Classification['verdict'];
  reasons: string[];
  risk: 'medium' | 'high';
  created_at: string;
  expires_at: string;
  status: InboxStatus;
  decided_by?: string;
  /** How the decision arrived: terminal, elicitation (a form the user answered), or mcp (another verified subject). */
  decided_via?: DecisionChannel;
  decided_at?: string;
  decision_reason?: string;
  /** How many times it ran (never more than 1). */
  executions: number;
  outcome?: { status: string; message: string; exit_code?: number | null; at: string };
}

export type InboxItem = InboxBase &
  ({ kind: 'command'; payload: CommandPayload } | { kind: 'run_node'; payload: RunNodePayload });

export interface InboxDoc {
  items: InboxItem[];
}

/** How a decision arrived: a terminal, a client's form, another verified MCP subject, or the review desk (a person with the terminal's desk session). */
export type DecisionChannel = 'terminal' | 'elicitation' | 'mcp' | 'desk';

export interface Decider {
  by: string;
  via: DecisionChannel;
  /** The deciding MCP session (channel mcp). */
  session?: string | undefined;
}

export const EMPTY_INBOX: InboxDoc = { items: [] };
const HISTORY = 500;

export class Inbox implements ApprovalSink {
  constructor(
    private readonly doc: DocumentStore<InboxDoc>,
    private readonly clock: Clock,
    private readonly ttlS: number,
  ) {}

  async request(item: Parameters<ApprovalSink['request']>[0]): Promise<string> {
    const id = newId('act');
    const now = this.clock.now();
    await this.doc.update((d) => {
      d.items.push({
        id,
        kind: item.kind,
        requested_by: item.requested_by,
        ...(item.requested_session ? { requested_session: item.requested_session } : {}),
        summary: item.summary,
        payload: item.payload,
        verdict: item.classification.verdict,
        reasons: item.classification.matches.map((m) => m.reason),
        risk: item.classification.matches.some((m) => m.verdict === 'BLOCKED') ? 'high' : 'medium',
        created_at: new Date(now).toISOString(),
        expires_at: new Date(now + this.ttlS * 1000).toISOString(),
        status: 'pending',
        executions: 0,
      });
      if (d.items.length > HISTORY) {
        // Drop the oldest decided items first; pending ones stay.
        const drop = d.items.findIndex((i) => i.status !== 'pending');
        if (drop >= 0) d.items.splice(drop, 1);
      }
    });
    return id;
  }

  /** Files a decision about a run's node for a human (retry it, or skip it with a reason). */
  async requestNodeDecision(item: {
    requested_by: string;
    summary: string;
    reasons: string[];
    payload: RunNodePayload;
  }): Promise<string> {
    const id = newId('act');
    const now = this.clock.now();
    await this.doc.update((d) => {
      d.items.push({
        id,
        kind: 'run_node',
        requested_by: item.requested_by,
        summary: item.summary,
        payload: item.payload,
        verdict: 'REQUIRES_APPROVAL',
        reasons: item.reasons,
        risk: 'medium',
        created_at: new Date(now).toISOString(),
        // A run waits for its human as long as the run itself is kept.
        expires_at: new Date(now + Math.max(this.ttlS, 7 * 86_400) * 1000).toISOString(),
        status: 'pending',
        executions: 0,
      });
    });
    return id;
  }

  private expire(d: InboxDoc, nowIso: string): void {
    for (const i of d.items) if (i.status === 'pending' && i.expires_at <= nowIso) i.status = 'expired';
  }

  async list(q: PageRequest & { status?: InboxStatus | undefined }): Promise<Page<InboxItem>> {
    const now = isoTime(this.clock);
    return this.doc.read((d) => {
      const items = structuredClone(d.items)
        .map((i) =>
          i.status === 'pending' && i.expires_at <= now ? { ...i, status: 'expired' as const } : i,
        )
        .filter((i) => !q.status || i.status === q.status)
        .reverse();
      return paginate(items, q);
    });
  }

  /** One item as it stands now. @throws AppError NOT_FOUND */
  async get(id: string): Promise<InboxItem> {
    const now = isoTime(this.clock);
    const item = await this.doc.read((d) => structuredClone(d.items.find((i) => i.id === id)));
    if (!item) throw new AppError('NOT_FOUND', `No inbox item "${id}"`, { hint: 'inbox_status lists them' });
    if (item.status === 'pending' && item.expires_at <= now) item.status = 'expired';
    return item;
  }

  /**
   * Approves (claiming the single execution) or rejects a pending item.
   * @throws AppError NOT_FOUND, CONFLICT (already decided or expired), INVALID_INPUT (reject without
   *   reason), FORBIDDEN (an approval over MCP by the actor or session that asked).
   */
  async decide(
    id: string,
    decision: { approve: boolean; reason?: string | undefined } & Decider,
  ): Promise<InboxItem> {
    if (!decision.approve && !decision.reason?.trim())
      throw new AppError('INVALID_INPUT', 'A reason is required to reject an action', {
        hint: 'Pass reason: why it must not run',
      });
    const now = isoTime(this.clock);
    return this.doc.update((d) => {
      this.expire(d, now);
      const item = d.items.find((i) => i.id === id);
      if (!item)
        throw new AppError('NOT_FOUND', `No inbox item "${id}"`, { hint: 'inbox_status lists them' });
      if (item.status === 'expired')
        throw new AppError(
          'CONFLICT',
          `Action ${id} expired at ${item.expires_at} and can no longer be approved`,
          {
            hint: 'Run the operation again to file a new request',
          },
        );
      if (item.status !== 'pending')
        throw new AppError(
          'CONFLICT',
          `Action ${id} was already ${item.status}${item.decided_by ? ` by ${item.decided_by}` : ''}`,
          {
            hint: 'Each request is decided once; inbox_status shows its outcome',
          },
        );
      if (
        decision.approve &&
        decision.via === 'mcp' &&
        (decision.by === item.requested_by ||
          (decision.session !== undefined && decision.session === item.requested_session))
      )
        throw new AppError(
          'FORBIDDEN',
          `Action ${id} cannot be approved by the session or actor that requested it`,
          {
            hint: `A human approves it: \`task-orchestrator approve ${id}\` in a terminal`,
          },
        );
      item.status = decision.approve ? 'approved' : 'rejected';
      item.decided_by = decision.by;
      item.decided_via = decision.via;
      item.decided_at = now;
      if (decision.reason) item.decision_reason = decision.reason;
      if (decision.approve) item.executions = 1;
      return item;
    });
  }

  /** Records what an approved action did. */
  async recordOutcome(
    id: string,
    outcome: { ok: boolean; status: string; message: string; exit_code?: number | null },
  ): Promise<InboxItem> {
    const at = isoTime(this.clock);
    return this.doc.update((d) => {
      const item = d.items.find((i) => i.id === id)!;
      item.status = outcome.ok ? 'executed' : 'failed';
      item.outcome = {
        status: outcome.status,
        message: outcome.message,
        ...(outcome.exit_code !== undefined ? { exit_code: outcome.exit_code } : {}),
        at,
      };
      return item;
    });
  }
}

/**
 * Approves an item and runs it once (the classifier and the policy check it again); records the
 * outcome. A run node's approval runs nothing here: the run that owns the node retries it.
 */
export async function approveAndRun(
  inbox: Inbox,
  runner: CommandRunner,
  id: string,
  decider: Decider,
): Promise<{ item: InboxItem; run?: RunOutcome; message: string }> {
  const item = await inbox.decide(id, { approve: true, ...decider });
  if (item.kind === 'run_node') {
    const message = `Run ${item.payload.run_id} retries ${item.payload.task} (resume the run with tasks_run {resume} if no server is running it)`;
    const final = await inbox.recordOutcome(item.id, { ok: true, status: 'retry', message });
    return { item: final, message };
  }
  const run = await runner.run(
    {
      command: item.payload.command,
      args: item.payload.args,
      cwd: item.payload.cwd,
      timeoutS: item.payload.timeout_s,
      actor: decider.by,
    },
    undefined,
    true,
  );
  const ok = run.status === 'executed' ? run.result!.exit_code === 0 : run.status === 'dry_run';
  const final = await inbox.recordOutcome(item.id, {
    ok,
    status: run.status,
    message: run.message,
    ...(run.result ? { exit_code: run.result.exit_code } : {}),
  });
  return { item: final, run, message: run.message };
}
