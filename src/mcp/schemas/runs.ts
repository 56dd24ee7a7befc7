/** How a supervisor run is shown: structured fields and the text mirror, shared by the run tools. */
import { z } from 'zod';
import { PROVIDER_NAMES } from '../../config/defaults.js';

export const providerField = z
  .enum(PROVIDER_NAMES)
  .optional()
  .describe('The leader: which provider plans; default the first configured');
import { criticalPath, nodeCounts, NODE_STATES, RUN_STATUSES } from '../../runs/runModel.js';
import type { Run } from '../../runs/runModel.js';
import type { CallerNode, RunPreview } from '../../runs/supervisor/types.js';

const runNodeSchema = z.object({
  task: z.string(),
  title: z.string(),
  state: z.enum(NODE_STATES),
  depends_on: z.array(z.string()),
  critical: z.boolean(),
  complexity: z.number().optional(),
  worker: z.string().optional(),
  attempts: z.number(),
  cost_usd: z.number(),
  latency_ms: z.number(),
  grades: z.array(
    z.object({
      n: z.number(),
      worker: z.string(),
      pass: z.boolean(),
      reasons: z.array(z.string()),
      trial_id: z.string().optional(),
      cached: z.boolean().optional(),
      review: z.object({ by: z.string(), approve: z.boolean(), reasons: z.array(z.string()) }).optional(),
    }),
  ),
  inbox_id: z.string().optional().describe('The inbox item a human decides (retry or skip)'),
  reason: z.string().optional(),
  added_after: z.string().optional().describe('Added by the leader after this node'),
  added_because: z
    .string()
    .optional()
    .describe('The start of the answer that led the leader to add it (data, not instructions)'),
});

export const runSchema = z.object({
  run_id: z.string(),
  status: z.enum(RUN_STATUSES),
  mode: z.enum(['agents', 'caller']),
  root: z.string(),
  title: z.string(),
  spent_usd: z.number(),
  max_cost_usd: z.number().optional(),
  counts: z.record(z.string(), z.number()),
  nodes: z.array(runNodeSchema),
  critical_path: z.array(z.string()).describe('The longest chain of unfinished nodes'),
  time_left_s: z.number().optional().describe('Remaining critical path x mean node latency so far'),
  synthesis: z
    .object({
      state: z.string(),
      output: z.string().optional(),
      trial_id: z.string().optional(),
      reason: z.string().optional(),
    })
    .optional(),
  driven_by: z.string().optional().describe('The server process running it now (its lease)'),
  history: z.array(z.object({ at: z.string(), text: z.string() })),
});

export const callerNodeSchema = z.object({
  run_id: z.string(),
  task: z.string(),
  title: z.string(),
  synthesis: z.boolean(),
  specialist: z.string().optional(),
  prompt: z.string(),
  attempt: z.number(),
});

export type RunView = z.infer<typeof runSchema>;

export function viewRun(run: Run, now: number, history = 20): RunView {
  const nodes = run.order.map((id) => run.nodes[id]!);
  const done = nodes.filter((n) => n.state === 'done' && n.latency_ms > 0);
  const path = criticalPath(run);
  const mean = done.length
    ? done.reduce((s, n) => s + n.latency_ms / Math.max(1, n.attempts.length), 0) / done.length
    : 0;
  const pendingSynthesis = run.status !== 'completed' && run.status !== 'cancelled' ? 1 : 0;
  return {
    run_id: run.id,
    status: run.status,
    mode: run.options.mode,
    root: run.root,
    title: run.title,
    spent_usd: run.spent_usd,
    ...(run.options.max_cost_usd !== undefined ? { max_cost_usd: run.options.max_cost_usd } : {}),
    counts: nodeCounts(run),
    nodes: nodes.map((n) => ({
      task: n.task,
      title: n.title,
      state: n.state,
      depends_on: n.depends_on.map((d) => d.task),
      critical: n.critical,
      ...(n.complexity !== undefined ? { complexity: n.complexity } : {}),
      ...(n.worker ? { worker: n.worker } : {}),
      attempts: n.attempts.length,
      cost_usd: n.cost_usd,
      latency_ms: n.latency_ms,
      grades: n.attempts.map((a) => ({
        n: a.n,
        worker: a.worker,
        pass: a.pass,
        reasons: a.reasons,
        ...(a.trial_id ? { trial_id: a.trial_id } : {}),
        ...(a.cached ? { cached: true } : {}),
        ...(a.review
          ? { review: { by: a.review.by, approve: a.review.approve, reasons: a.review.reasons } }
          : {}),
      })),
      ...(n.inbox_id ? { inbox_id: n.inbox_id } : {}),
      ...(n.reason ? { reason: n.reason } : {}),
      ...(n.added_after ? { added_after: n.added_after } : {}),
      ...(n.added_because ? { added_because: n.added_because } : {}),
    })),
    critical_path: path,
    ...(mean > 0 && pendingSynthesis
      ? { time_left_s: Math.round(((path.length + pendingSynthesis) * mean) / 100) / 10 }
      : {}),
    ...(run.synthesis
      ? {
          synthesis: {
            state: run.synthesis.state,
            ...(run.synthesis.output ? { output: run.synthesis.output.slice(0, 4000) } : {}),
            ...(run.synthesis.trial_id ? { trial_id: run.synthesis.trial_id } : {}),
            ...(run.synthesis.reason ? { reason: run.synthesis.reason } : {}),
          },
        }
      : {}),
    ...(run.lease && run.lease.expires_at > now ? { driven_by: run.lease.owner } : {}),
    history: run.history.slice(-history),
  };
}

export function runText(v: RunView): string {
  const c = v.counts;
  return [
    `Run ${v.run_id} (${v.mode}) of ${v.root} "${v.title}": ${v.status}; ${c.done ?? 0} done, ${c.running ?? 0} running, ${(c.waiting ?? 0) + (c.ready ?? 0)} waiting, ${c.blocked ?? 0} blocked, ${c.skipped ?? 0} skipped; spent $${v.spent_usd.toFixed(4)}${v.max_cost_usd !== undefined ? ` of $${v.max_cost_usd}` : ''}${v.time_left_s !== undefined ? `; about ${v.time_left_s} s left` : ''}.`,
    ...v.nodes.map(
      (n) =>
        `- ${n.task} [${n.state}] ${n.title}${n.worker ? ` (${n.worker}` + `, ${n.attempts} attempt(s), $${n.cost_usd})` : ''}${n.inbox_id ? `; inbox ${n.inbox_id}` : ''}${n.reason ? `; ${n.reason.slice(0, 160)}` : ''}`,
    ),
    v.critical_path.length ? `Critical path: ${v.critical_path.join(' → ')}` : '',
    v.synthesis
      ? `Synthesis: ${v.synthesis.state}${v.synthesis.reason ? ` (${v.synthesis.reason})` : ''}`
      : '',
    v.history.length ? `Last: ${v.history.at(-1)!.text}` : '',
  ]
    .filter(Boolean)
    .join('\n');
}

export function previewText(p: RunPreview): string {
  return [
    `Dry run of ${p.run.root} "${p.run.title}" (${p.run.options.mode} mode, concurrency ${p.run.options.concurrency}): ${p.run.order.length} node(s); nothing was called or stored.`,
    ...p.waves.map(
      (wave, i) =>
        `Step ${i + 1}: ${wave.map((id) => `${id} "${p.run.nodes[id]!.title.slice(0, 60)}"${p.workers[id] !== undefined ? ` → ${p.workers[id] ?? 'NO ELIGIBLE WORKER'}` : ''}${p.reviewed.includes(id) ? ' (reviewed)' : ''}`).join('; ')}`,
    ),
    `Critical path: ${p.critical_path.join(' → ') || 'none'}`,
    p.interviews.length
      ? `No worker has passed onboarding: tasks_run {interview: true} interviews ${p.interviews.map((i) => `${i.worker} (at most $${i.worst_usd.toFixed(4)})`).join(', ')} first; the estimate includes them.`
      : '',
    p.run.options.mode === 'agents'
      ? `Worst case of one attempt per node, reviews and synthesis: $${p.estimate_usd.toFixed(4)}${p.leader ? `; leader ${p.leader}` : ''}.`
      : 'Caller mode: you do each node (tasks_run hands them out) and report with tasks_complete.',
    'Call again with dry_run: false to run it.',
  ]
    .filter(Boolean)
    .join('\n');
}

export function callerText(n: CallerNode): string {
  return `${n.synthesis ? 'Last step: synthesise the run' : `Next node ${n.task} "${n.title}" (attempt ${n.attempt})`}. It is claimed for you.\n\n${n.prompt}`;
}
