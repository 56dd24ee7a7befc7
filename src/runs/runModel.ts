/**
 * A supervisor run as it is stored: the nodes of one task tree with their states, attempts,
 * workers, costs and grades, the run's options, lease and history. Pure helpers over it (what is
 * ready, the critical path, what a dry run shows) live here; the engine is supervisor.ts.
 */

export const NODE_STATES = [
  'waiting',
  'ready',
  'running',
  'done',
  'blocked',
  'skipped',
  'cancelled',
] as const;
export type NodeState = (typeof NODE_STATES)[number];

export const RUN_STATUSES = [
  'running',
  'waiting_for_human',
  'budget_exhausted',
  'completed',
  /** Ended with the root synthesised, but some nodes were skipped (a person rejected one, or it depended on one). */
  'partly_done',
  'cancelled',
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** Statuses after which a run never does anything again. */
export const ENDED_RUN: ReadonlySet<RunStatus> = new Set(['completed', 'partly_done', 'cancelled']);

export interface Review {
  by: string;
  approve: boolean;
  reasons: string[];
  cost_usd: number;
}

export interface Attempt {
  n: number;
  worker: string;
  at: string;
  pass: boolean;
  reasons: string[];
  trial_id?: string | undefined;
  cost_usd: number;
  latency_ms: number;
  cached?: boolean | undefined;
  review?: Review | undefined;
}

export interface RunNode {
  task: string;
  title: string;
  state: NodeState;
  /** Run nodes this one waits for, with the dependency kind (data passes the result on). */
  depends_on: Array<{ task: string; kind: string }>;
  critical: boolean;
  complexity?: number | undefined;
  specialist?: string | undefined;
  attempts: Attempt[];
  /** The worker now (or last) on it, `provider/model` (or the caller's session in caller mode). */
  worker?: string | undefined;
  /** Attempts before this index were judged by a human, who asked for a fresh start. */
  since?: number | undefined;
  /** Workers that failed it past their retries. */
  excluded: string[];
  /**
   * A worker's answer recorded right after the call, before review and gates: a resumed run
   * continues from it instead of calling the provider again.
   */
  pending?: { output: string; value?: unknown; worker: string; attempt: number } | undefined;
  /** The accepted result (bounded), passed to dependents on data dependencies. */
  output?: string | undefined;
  /**
   * The leader's summary of a result longer than a dependent's bound: what a data dependent gets
   * instead of a head-and-tail cut (made once, when the first dependent starts).
   */
  digest?: { text: string; by: string; cost_usd: number } | undefined;
  claim?: { holder: string; expires_at: number } | undefined;
  started_at?: string | undefined;
  finished_at?: string | undefined;
  cost_usd: number;
  latency_ms: number;
  /** The inbox item a human decides when every worker failed. */
  inbox_id?: string | undefined;
  reason?: string | undefined;
  /** Added by the leader after another node's result. */
  added_after?: string | undefined;
  /** The start of the answer that led the leader to add it (shown with it, as data). */
  added_because?: string | undefined;
}

/** What a run does unless asked otherwise (the tool's schema and the supervisor read these). */
export const RUN_DEFAULTS = {
  mode: 'agents',
  concurrency: 4,
  retries: 1,
  review: 'auto',
  cache: false,
  max_added: 5,
  max_tokens: 2000,
} as const;

export interface RunOptions {
  mode: 'agents' | 'caller';
  concurrency: number;
  max_cost_usd?: number | undefined;
  /** Retries per worker before the node is reassigned. */
  retries: number;
  /** Which outputs the leader reviews: auto (limited workers, critical nodes), all, none. */
  review: 'auto' | 'all' | 'none';
  cache: boolean;
  /** Nodes the leader may add during the run. */
  max_added: number;
  max_tokens: number;
  leader?: string | undefined;
  /** Only these workers (`provider/model`); default every interviewed one. */
  workers?: string[] | undefined;
}

export interface Run {
  id: string;
  root: string;
  title: string;
  status: RunStatus;
  options: RunOptions;
  created_by: string;
  created_at: string;
  updated_at: string;
  finished_at?: string | undefined;
  lease?: { owner: string; expires_at: number } | undefined;
  spent_usd: number;
  nodes: Record<string, RunNode>;
  order: string[];
  added: number;
  synthesis?:
    | {
        state: 'running' | 'done' | 'failed';
        output?: string;
        trial_id?: string;
        cost_usd: number;
        reason?: string;
      }
    | undefined;
  history: Array<{ at: string; text: string }>;
}

export interface RunDoc {
  runs: Record<string, Run>;
}

export const EMPTY_RUNS: RunDoc = { runs: {} };

export interface CacheDoc {
  entries: Record<string, { output: string; worker: string; at: string }>;
}

export const EMPTY_CACHE: CacheDoc = { entries: {} };

export const CLOSED_NODE: ReadonlySet<NodeState> = new Set(['done', 'skipped', 'cancelled']);

/**
 * Nodes whose run dependencies are all done, not yet started; those with the longest chain of
 * work waiting on them first (critical-path-first list scheduling), then in creation order.
 */
export function readyNodes(run: Run): RunNode[] {
  const height = heights(run);
  return run.order
    .map((id) => run.nodes[id]!)
    .filter(
      (n) =>
        (n.state === 'waiting' || n.state === 'ready') &&
        n.depends_on.every((d) => run.nodes[d.task]?.state === 'done'),
    )
    .sort((a, b) => height.get(b.task)! - height.get(a.task)!);
}

/** For each node, the number of nodes on the longest chain that starts at it (itself included). */
function heights(run: Run): Map<string, number> {
  const dependents = new Map<string, string[]>();
  for (const id of run.order)
    for (const d of run.nodes[id]!.depends_on)
      dependents.set(d.task, [...(dependents.get(d.task) ?? []), id]);
  const out = new Map<string, number>();
  const visit = (id: string): number => {
    const known = out.get(id);
    if (known !== undefined) return known;
    out.set(id, 1); // a cycle (never stored) cannot recurse forever
    const h = 1 + Math.max(0, ...(dependents.get(id) ?? []).map(visit));
    out.set(id, h);
    return h;
  };
  for (const id of run.order) visit(id);
  return out;
}

/** Marks nodes that wait (directly or not) on a skipped or cancelled node as skipped. Returns them. */
export function skipUnreachable(run: Run): RunNode[] {
  const out: RunNode[] = [];
  let changed = true;
  while (changed) {
    changed = false;
    for (const id of run.order) {
      const n = run.nodes[id]!;
      if (n.state !== 'waiting' && n.state !== 'ready') continue;
      const dead = n.depends_on.find((d) => {
        const s = run.nodes[d.task]?.state;
        return s === 'skipped' || s === 'cancelled';
      });
      if (dead) {
        n.state = 'skipped';
        n.reason = `depends on ${dead.task}, which was ${run.nodes[dead.task]!.state}`;
        out.push(n);
        changed = true;
      }
    }
  }
  return out;
}

/**
 * The longest chain of unfinished nodes (each counted `unit` long), first to last. With every
 * node unfinished this is the run's critical path.
 */
export function criticalPath(run: Run, includeDone = false): string[] {
  const memo = new Map<string, string[]>();
  const dependents = new Map<string, string[]>();
  for (const id of run.order)
    for (const d of run.nodes[id]!.depends_on)
      dependents.set(d.task, [...(dependents.get(d.task) ?? []), id]);
  const counts = (id: string) => includeDone || !CLOSED_NODE.has(run.nodes[id]!.state);
  const longest = (id: string): string[] => {
    const hit = memo.get(id);
    if (hit) return hit;
    let best: string[] = [];
    for (const next of dependents.get(id) ?? []) {
      const p = longest(next);
      if (p.length > best.length) best = p;
    }
    const path = counts(id) ? [id, ...best] : best;
    memo.set(id, path);
    return path;
  };
  let best: string[] = [];
  for (const id of run.order) {
    const p = longest(id);
    if (p.length > best.length) best = p;
  }
  return best;
}

/**
 * Levels of a dry run: nodes grouped by the earliest step they can start in (every dependency in
 * an earlier level), then each level cut into waves of `concurrency`.
 */
export function schedulePreview(run: Run): string[][] {
  const level = nodeLevels(run);
  const levels: string[][] = [];
  for (const id of run.order) {
    if (CLOSED_NODE.has(run.nodes[id]!.state)) continue;
    (levels[level.get(id)!] ??= []).push(id);
  }
  return levels.filter(Boolean);
}

/** Counts of nodes per state. */
export function nodeCounts(run: Run): Record<NodeState, number> {
  const out = Object.fromEntries(NODE_STATES.map((s) => [s, 0])) as Record<NodeState, number>;
  for (const id of run.order) out[run.nodes[id]!.state]++;
  return out;
}

/** A long result cut to its head and tail, marked, so a dependent's prompt stays bounded. */
export function trimResult(text: string, max: number): string {
  if (text.length <= max) return text;
  const head = Math.floor(max * 0.75);
  const tail = max - head;
  return `${text.slice(0, head)}\n[... ${text.length - max} characters left out ...]\n${text.slice(-tail)}`;
}

/** Each node's level: 0 without run dependencies, else one more than its deepest dependency. */
export function nodeLevels(run: Run): Map<string, number> {
  const level = new Map<string, number>();
  const depth = (id: string, seen: Set<string>): number => {
    const known = level.get(id);
    if (known !== undefined) return known;
    if (seen.has(id)) return 0;
    seen.add(id);
    const deps = run.nodes[id]?.depends_on ?? [];
    const d = deps.length ? Math.max(...deps.map((x) => depth(x.task, seen) + 1)) : 0;
    level.set(id, d);
    return d;
  };
  for (const id of run.order) depth(id, new Set());
  return level;
}
