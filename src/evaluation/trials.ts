/** Trials: one record per graded output, append-only and queryable. */
import type { Clock } from '../core/clock.js';
import { isoTime } from '../core/clock.js';
import { newId } from '../core/ids.js';
import { paginate } from '../core/pagination.js';
import type { Page, PageRequest } from '../core/pagination.js';
import type { AppendLog } from '../storage/appendLog.js';
import type { Evaluation, FailureType, GraderOutcome } from './graders/pipeline.js';

/** A grading failure, the provider failing to answer at all, or a Claude Code tool call failing. */
export type TrialFailureType = FailureType | 'provider_error' | 'tool_error';

export interface Trial {
  id: string;
  operation: string;
  /** Whose output: `claude_code` (its hooks), `spawn_agent`, ... (sourceOf(operation) when absent). */
  source?: string;
  prompt: string;
  output: string;
  provider?: string;
  model?: string;
  usage?: { input_tokens: number; output_tokens: number };
  cost_usd?: number;
  latency_ms?: number;
  /** The serving provider/model's breaker state when the call finished. */
  breaker_state?: string;
  graders: GraderOutcome[];
  pass: boolean;
  score: number;
  failure_type?: TrialFailureType;
  /** Criteria that could not be graded (judge unavailable), and why. */
  ungraded?: Array<{ grader: string; reason: string }>;
  /** Criteria whose judges' votes disagreed (the verdict teaches nothing). */
  uncertain?: string[];
  /** What the judges cost and how long they took. */
  judge_cost_usd?: number;
  judge_latency_ms?: number | undefined;
  /** This prompt on this model so far: runs in the window, pass rate, flaky (passes and fails alternately). */
  case?: { key: string; runs: number; pass_rate: number; flaky: boolean };
  error?: string;
  /** An evaluation suite's assertions on this answer (source eval): type, verdict, reason. */
  assertions?: Array<{ type: string; pass: boolean; score: number; reason: string; ungraded?: true }>;
  /** The suite run and case it belongs to (source eval). */
  eval?: { run_id: string; suite: string; case_id: string; repeat: number; arm?: string };
  task_id?: string;
  trace_id?: string;
  created_at: string;
}

/** A trial's grading fields from an evaluation, and its case standing (flaky or not) when known. */
export function gradedFields(
  evaluation: Evaluation,
  standing?: { key: string; runs: number; pass_rate: number; flaky: boolean },
): Pick<
  Trial,
  | 'graders'
  | 'pass'
  | 'score'
  | 'failure_type'
  | 'ungraded'
  | 'uncertain'
  | 'judge_cost_usd'
  | 'judge_latency_ms'
  | 'case'
> {
  return {
    graders: evaluation.graders,
    pass: evaluation.pass,
    score: evaluation.score,
    ...(evaluation.failure_type ? { failure_type: evaluation.failure_type } : {}),
    ...(evaluation.ungraded ? { ungraded: evaluation.ungraded } : {}),
    ...(evaluation.uncertain ? { uncertain: evaluation.uncertain } : {}),
    ...(evaluation.judge_cost_usd !== undefined
      ? { judge_cost_usd: evaluation.judge_cost_usd, judge_latency_ms: evaluation.judge_latency_ms }
      : {}),
    ...(standing
      ? {
          case: {
            key: standing.key,
            runs: standing.runs,
            pass_rate: standing.pass_rate,
            flaky: standing.flaky,
          },
        }
      : {}),
  };
}

const PROMPT_CHARS = 4000;
const OUTPUT_CHARS = 8000;

/** Whose work an operation is: claude_code, judge, scheduler, spawn_archetype_agent, or the operation's name. */
export function sourceOf(operation: string): string {
  const head = operation.split(':')[0]!;
  if (head === 'archetype') return 'spawn_archetype_agent';
  if (head === 'schedule') return 'scheduler';
  return head;
}

export interface TrialQuery extends PageRequest {
  operation?: string | undefined;
  /** Only trials of this source (claude_code, spawn_agent, ...). */
  source?: string | undefined;
  pass?: boolean | undefined;
  provider?: string | undefined;
  failure_type?: string | undefined;
}

export class TrialStore {
  constructor(
    private readonly log: AppendLog<Trial>,
    private readonly clock: Clock,
  ) {}

  /** Records a trial (prompt and output bounded) and returns it. */
  /** @param t with `id` when the caller named the trial before recording it. */
  async record(t: Omit<Trial, 'id' | 'created_at'> & { id?: string }): Promise<Trial> {
    const trial: Trial = {
      ...t,
      id: t.id ?? newId('tri'),
      prompt: t.prompt.slice(0, PROMPT_CHARS),
      output: t.output.slice(0, OUTPUT_CHARS),
      created_at: isoTime(this.clock),
    };
    await this.log.append(trial);
    return trial;
  }

  /** Newest first. */
  async list(q: TrialQuery): Promise<Page<Trial>> {
    const all = await this.log.readAll();
    const matches = all
      .filter((t) => (q.operation ? t.operation === q.operation : true))
      .filter((t) => (q.source ? (t.source ?? sourceOf(t.operation)) === q.source : true))
      .filter((t) => (q.pass === undefined ? true : t.pass === q.pass))
      .filter((t) => (q.provider ? t.provider === q.provider : true))
      .filter((t) => (q.failure_type ? t.failure_type === q.failure_type : true))
      .reverse();
    return paginate(matches, q);
  }

  async get(id: string): Promise<Trial | undefined> {
    return (await this.log.readAll()).find((t) => t.id === id);
  }

  /** Deletes trial segments last written before `before` (retention). Returns how many. */
  prune(before: number): Promise<number> {
    return this.log.prune(before);
  }
}
