/**
 * Suite runs across a matrix: every case on every target (provider/model) `repeat` times, with a
 * concurrency limit, through the spawn pipeline (the breakers and budgets of every spawn; no
 * fallback to another model: the matrix names which model answers), a cost limit checked before
 * each call (the next call's worst case must fit), every answer graded by the case's assertions and
 * stored as a trial (source `eval`). A run's header lives in a document, each finished cell in an
 * append-only log: a run killed at any point resumes where it was, never repeating a finished cell.
 * One process drives a run at a time (a lease, as supervisor runs have).
 */
import type { SpawnPipeline } from '../../agents/spawn.js';
import type { ProviderName } from '../../agents/providers/types.js';
import type { Clock } from '../../core/clock.js';
import { isoTime } from '../../core/clock.js';
import { AppError } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import type { SchemaCache } from '../../core/jsonSchema.js';
import type { Logger } from '../../core/logger.js';
import type { AppendLog } from '../../storage/appendLog.js';
import type { DocumentStore } from '../../storage/documentStore.js';
import { leaseLive } from '../../tasks/claims.js';
import type { Judge } from '../graders/judge.js';
import type { TrialStore } from '../trials.js';
import { assertAll } from './assertions.js';
import type { AssertionResult } from './assertions.js';
import type { EvalCase, EvalSuite } from './suiteFile.js';

export type EvalRunStatus = 'running' | 'done' | 'stopped' | 'failed';

export interface EvalRun {
  id: string;
  suite: string;
  /** The suite file (relative to the project) and a hash of the content that ran. */
  file: string;
  hash: string;
  targets: string[];
  cases: number;
  /** Cells in all: cases x targets x each case's repeat. */
  cells: number;
  concurrency: number;
  max_cost_usd?: number;
  status: EvalRunStatus;
  /** Why it stopped early (cost limit, cancelled, an error). */
  stop_reason?: string;
  started_at: string;
  ended_at?: string;
  /** Who judged, and a note when a model judged its own answers (only one model configured). */
  judge_note?: string;
  lease?: { owner: string; expires_at: number };
  /** Set when the run was resumed (how many times). */
  resumed?: number;
}

export interface EvalCell {
  run_id: string;
  case_id: string;
  target: string;
  /** 0-based run of this case on this target. */
  repeat: number;
  pass: boolean;
  score: number;
  /** The call failed (provider unavailable) or a judge could not answer: counted apart from failures. */
  error?: string;
  /** The memory arm: the failure memory blocked the call (no answer; the case does not pass). */
  blocked?: string;
  ungraded?: true;
  output_preview: string;
  latency_ms: number;
  cost_usd: number;
  judge_cost_usd: number;
  assertions: Array<Pick<AssertionResult, 'type' | 'pass' | 'score' | 'reason' | 'ungraded' | 'judged_by'>>;
  trial_id?: string;
  at: string;
}

export interface EvalRunDoc {
  runs: Record<string, EvalRun>;
  /** suite name -> the run its comparisons use as the baseline. */
  baselines: Record<string, string>;
}

export const EMPTY_EVAL_RUNS: EvalRunDoc = { runs: {}, baselines: {} };

/** Runs kept in the document (the oldest go; their cells stay in the log until retention). */
const MAX_RUNS = 200;
const LEASE_MS = 30_000;
/** Output tokens assumed for a call whose suite sets no max_tokens (the cost limit's worst case). */
const DEFAULT_MAX_TOKENS = 1024;
/** Output tokens a judge verdict is allowed. */
const JUDGE_TOKENS = 300;

export interface EvalRunnerDeps {
  spawn: SpawnPipeline;
  judge?: Judge | undefined;
  schemas: SchemaCache;
  trials: TrialStore;
  runs: DocumentStore<EvalRunDoc>;
  cells: AppendLog<EvalCell>;
  clock: Clock;
  logger: Logger;
  /** `host:pid:random` of this process (the lease holder). */
  owner: string;
  /**
   * The failure memory's pre-spawn check, for the `+memory` arm: the guardrail text to add to the
   * system prompt, or why the memory would block the call. Absent: no memory arm.
   */
  memory?:
    ((prompt: string, operation: string) => Promise<{ system?: string; blocked?: string }>) | undefined;
}

/** The arm a target column runs in: `provider/model` plain, `provider/model+memory` with the memory's guardrails. */
const MEMORY_ARM = '+memory';

export interface StartOptions {
  /** provider/model targets; default the suite's providers, else every configured provider's default model. */
  targets?: readonly string[] | undefined;
  concurrency?: number | undefined;
  maxCostUsd?: number | undefined;
  /** off: plain calls; on: every call with the memory's guardrails; both: each target in both arms. */
  memory?: 'off' | 'on' | 'both' | undefined;
  /** The suite file as the user named it (relative to the project). */
  file: string;
  onProgress?: ((done: number, total: number, message: string) => void) | undefined;
  signal?: AbortSignal | undefined;
}

interface Pending {
  c: EvalCase;
  target: string;
  repeat: number;
}

const cellKey = (caseId: string, target: string, repeat: number) => `${caseId}\u0000${target}\u0000${repeat}`;

export class EvalRunner {
  private readonly active = new Map<string, Promise<EvalRun>>();
  /** Aborted when the server stops: runs end as `stopped` (resumable), calls in flight are cancelled. */
  private readonly stopping = new AbortController();

  constructor(private readonly deps: EvalRunnerDeps) {}

  /** Stops the runs this process drives (they can be resumed) and waits for them. */
  async close(): Promise<void> {
    this.stopping.abort(new Error('the server is stopping'));
    await Promise.allSettled([...this.active.values()]);
  }

  /** The targets of a run, checked against the configured providers. */
  targetsFor(
    suite: EvalSuite,
    asked: readonly string[] | undefined,
    memory: StartOptions['memory'] = 'off',
  ): string[] {
    if (memory !== 'off' && !this.deps.memory)
      throw new AppError('INVALID_INPUT', 'The memory arm needs the failure memory, which is off here', {
        hint: 'Unset TASK_ORCHESTRATOR_IMMUNE=off, or run with memory: "off"',
      });
    const available = this.deps.spawn.targetsAvailable;
    const targets = asked?.length
      ? [...asked]
      : suite.providers?.length
        ? suite.providers
        : available.map((t) => `${t.name}/${t.defaultModel}`);
    if (targets.length === 0)
      throw new AppError('NO_PROVIDER', 'No LLM provider is configured to run the suite on', {
        hint: 'Set OPENAI_API_KEY, GEMINI_API_KEY or ANTHROPIC_API_KEY (or OPENAI_BASE_URL for a local server)',
      });
    const configured = new Set(available.map((t) => t.name as string));
    for (const t of targets) {
      const [provider, ...model] = t.split('/');
      if (!provider || model.length === 0 || !model.join('/'))
        throw new AppError('INVALID_INPUT', `Target "${t}" is not provider/model`, {
          hint: 'e.g. openai/gpt-4o-mini',
        });
      if (!configured.has(provider))
        throw new AppError('NO_PROVIDER', `Target ${t}: provider "${provider}" is not configured`, {
          hint: `Configured: ${[...configured].join(', ') || 'none'}`,
        });
    }
    const unique = [...new Set(targets)];
    return memory === 'on'
      ? unique.map((t) => `${t}${MEMORY_ARM}`)
      : memory === 'both'
        ? unique.flatMap((t) => [t, `${t}${MEMORY_ARM}`])
        : unique;
  }

  /** A new run of `suite`: recorded, then driven in the background. `done` resolves with its end state. */
  async start(suite: EvalSuite, options: StartOptions): Promise<{ run: EvalRun; done: Promise<EvalRun> }> {
    const targets = this.targetsFor(suite, options.targets, options.memory);
    const concurrency = Math.max(1, Math.min(32, Math.floor(options.concurrency ?? 4)));
    const id = newId('evr');
    const now = this.deps.clock.now();
    const run: EvalRun = {
      id,
      suite: suite.name,
      file: options.file,
      hash: suite.hash,
      targets,
      cases: suite.cases.length,
      cells: suite.cases.reduce((n, c) => n + c.repeat, 0) * targets.length,
      concurrency,
      ...(options.maxCostUsd !== undefined ? { max_cost_usd: options.maxCostUsd } : {}),
      status: 'running',
      started_at: isoTime(this.deps.clock),
      ...this.judgeNote(suite, targets),
      lease: { owner: this.deps.owner, expires_at: now + LEASE_MS },
    };
    await this.deps.runs.update((d) => {
      d.runs[id] = run;
      const ids = Object.keys(d.runs);
      if (ids.length > MAX_RUNS)
        for (const old of ids
          .filter((k) => d.runs[k]!.status !== 'running')
          .sort((a, b) => d.runs[a]!.started_at.localeCompare(d.runs[b]!.started_at))
          .slice(0, ids.length - MAX_RUNS))
          delete d.runs[old];
    });
    const done = this.drive(run, suite, new Set(), 0, options);
    return { run, done };
  }

  /**
   * Takes an unfinished run over (after its process died, or it was stopped by the cost limit):
   * the cells already in the log are kept, the rest run.
   * @throws AppError NOT_FOUND, CONFLICT when another live process drives it or the suite changed.
   */
  async resume(
    runId: string,
    suite: EvalSuite,
    options: Omit<StartOptions, 'targets' | 'file'>,
  ): Promise<{ run: EvalRun; done: Promise<EvalRun> }> {
    const now = this.deps.clock.now();
    const run = await this.deps.runs.update((d) => {
      const r = d.runs[runId];
      if (!r)
        throw new AppError('NOT_FOUND', `No evaluation run "${runId}"`, { hint: 'eval_status lists runs' });
      if (r.status === 'done') throw new AppError('CONFLICT', `Run ${runId} is already done`);
      if (r.hash !== suite.hash)
        throw new AppError(
          'CONFLICT',
          `The suite changed since run ${runId} started (${r.hash} -> ${suite.hash})`,
          {
            hint: 'Start a new run; a resumed run must ask the same cases',
          },
        );
      if (r.lease && r.lease.owner !== this.deps.owner && leaseLive(r.lease, now) && r.status === 'running')
        throw new AppError('CONFLICT', `Run ${runId} is being run by another process (${r.lease.owner})`, {
          hint: `Its lease runs until ${new Date(r.lease.expires_at).toISOString()}`,
        });
      r.status = 'running';
      delete r.stop_reason;
      delete r.ended_at;
      if (options.maxCostUsd !== undefined) r.max_cost_usd = options.maxCostUsd;
      r.resumed = (r.resumed ?? 0) + 1;
      r.lease = { owner: this.deps.owner, expires_at: now + LEASE_MS };
      return r;
    });
    const cells = await this.cellsOf(runId);
    const finished = new Set(cells.map((c) => cellKey(c.case_id, c.target, c.repeat)));
    const spent = cells.reduce((n, c) => n + c.cost_usd + c.judge_cost_usd, 0);
    const done = this.drive(run, suite, finished, spent, {
      ...options,
      file: run.file,
      targets: run.targets,
    });
    return { run, done };
  }

  /** The run's finished cells, in the order they finished (the last record of a cell wins). */
  async cellsOf(runId: string): Promise<EvalCell[]> {
    const byKey = new Map<string, EvalCell>();
    for (const c of await this.deps.cells.readAll())
      if (c.run_id === runId) byKey.set(cellKey(c.case_id, c.target, c.repeat), c);
    return [...byKey.values()];
  }

  async get(runId: string): Promise<EvalRun> {
    const r = await this.deps.runs.read((d) => d.runs[runId]);
    if (!r)
      throw new AppError('NOT_FOUND', `No evaluation run "${runId}"`, { hint: 'eval_status lists runs' });
    return structuredClone(r);
  }

  async list(suite?: string): Promise<EvalRun[]> {
    return this.deps.runs.read((d) =>
      Object.values(d.runs)
        .filter((r) => !suite || r.suite === suite)
        .sort((a, b) => b.started_at.localeCompare(a.started_at))
        .map((r) => structuredClone(r)),
    );
  }

  /** Changes whenever a run starts or ends or a cell finishes (the desk's live pages follow it). */
  async version(): Promise<string> {
    const [runs, cells] = await Promise.all([this.list(), this.deps.cells.stats()]);
    return `${runs
      .slice(0, 20)
      .map((r) => `${r.id}:${r.status}`)
      .join(',')}#${cells.records}`;
  }

  /** Pins a run as its suite's baseline. */
  async pinBaseline(runId: string): Promise<EvalRun> {
    return this.deps.runs.update((d) => {
      const r = d.runs[runId];
      if (!r)
        throw new AppError('NOT_FOUND', `No evaluation run "${runId}"`, { hint: 'eval_status lists runs' });
      if (r.status !== 'done')
        throw new AppError(
          'CONFLICT',
          `Run ${runId} is ${r.status}; only a finished run can be the baseline`,
        );
      d.baselines[r.suite] = runId;
      return r;
    });
  }

  async baselineOf(suite: string): Promise<string | undefined> {
    return this.deps.runs.read((d) => d.baselines[suite]);
  }

  /** Waits for a run this process drives (undefined when it drives none by that id). */
  waitFor(runId: string): Promise<EvalRun> | undefined {
    return this.active.get(runId);
  }

  private judgeNote(suite: EvalSuite, targets: string[]): Pick<EvalRun, 'judge_note'> {
    const judged = suite.cases.some((c) =>
      c.assert.some((a) => ['rubric', 'reference', 'judge'].includes(a.type)),
    );
    if (!judged || !this.deps.judge) return {};
    if (suite.judge) return { judge_note: `judged by ${suite.judge}` };
    const available = this.deps.spawn.targetsAvailable.map((t) => `${t.name}/${t.defaultModel}`);
    if (available.length <= 1)
      return {
        judge_note: `only one model is configured (${available[0] ?? 'none'})${targets.some((t) => t === available[0]) ? ': it judged its own answers' : ''}; configure another provider for an independent judge`,
      };
    return { judge_note: 'judged by a model other than the one judged (the cheapest of the judge tier)' };
  }

  private drive(
    run: EvalRun,
    suite: EvalSuite,
    finished: Set<string>,
    spentBefore: number,
    options: StartOptions,
  ): Promise<EvalRun> {
    // Never rejects: nobody may be waiting when it ends (the tool answered after wait_s).
    const promise = this.loop(run, suite, finished, spentBefore, options)
      .catch((error: unknown) => {
        this.deps.logger.error('evaluation run failed', { error, run: run.id });
        return { ...run, status: 'failed' as const, stop_reason: `failed: ${(error as Error).message}` };
      })
      .finally(() => this.active.delete(run.id));
    this.active.set(run.id, promise);
    return promise;
  }

  private async loop(
    run: EvalRun,
    suite: EvalSuite,
    finished: Set<string>,
    spentBefore: number,
    asked: StartOptions,
  ): Promise<EvalRun> {
    const { clock, spawn } = this.deps;
    const signal = asked.signal
      ? AbortSignal.any([asked.signal, this.stopping.signal])
      : this.stopping.signal;
    const options = { ...asked, signal };
    const queue: Pending[] = [];
    for (const c of suite.cases)
      for (const target of run.targets)
        for (let repeat = 0; repeat < c.repeat; repeat++)
          if (!finished.has(cellKey(c.id, target, repeat))) queue.push({ c, target, repeat });
    let done = run.cells - queue.length;
    let spent = spentBefore;
    let reserved = 0;
    let stop: string | undefined;
    const lease = setInterval(() => {
      void this.deps.runs
        .update((d) => {
          const r = d.runs[run.id];
          if (r?.lease?.owner === this.deps.owner) r.lease.expires_at = clock.now() + LEASE_MS;
        })
        .catch(() => undefined);
    }, LEASE_MS / 3);
    lease.unref();
    const worstCase = (p: Pending): number => {
      const [provider, ...rest] = p.target.replace(MEMORY_ARM, '').split('/');
      const model = rest.join('/');
      const input = Math.ceil(((p.c.system?.length ?? 0) + p.c.prompt.length) / 3) + 16;
      const maxTokens = suite.maxTokens ?? DEFAULT_MAX_TOKENS;
      const call = spawn.pricing.cost(provider!, model, input, maxTokens);
      const judges = p.c.assert.filter((a) => ['rubric', 'reference', 'judge'].includes(a.type)).length;
      // A judge reads the request and the answer: priced on the judged model (the judge is cheaper or equal).
      const judge =
        judges * spawn.pricing.cost(provider!, model, input + Math.ceil(maxTokens * 1.3) + 200, JUDGE_TOKENS);
      return call + judge;
    };
    const one = async (p: Pending): Promise<void> => {
      const withMemory = p.target.endsWith(MEMORY_ARM);
      const [provider, ...rest] = (withMemory ? p.target.slice(0, -MEMORY_ARM.length) : p.target).split('/');
      const model = rest.join('/');
      const guard =
        withMemory && this.deps.memory ? await this.deps.memory(p.c.prompt, `eval:${suite.name}`) : undefined;
      // A cell without an answer: the memory blocked the call, or the provider failed.
      const unanswered = (extra: Partial<EvalCell>): EvalCell => ({
        run_id: run.id,
        case_id: p.c.id,
        target: p.target,
        repeat: p.repeat,
        pass: false,
        score: 0,
        output_preview: '',
        latency_ms: 0,
        cost_usd: 0,
        judge_cost_usd: 0,
        assertions: [],
        at: isoTime(clock),
        ...extra,
      });
      const system = [p.c.system, guard?.system].filter(Boolean).join('\n\n');
      // The memory would not let a blocked call reach the model: no answer, so the case does not pass.
      const r = guard?.blocked
        ? undefined
        : await spawn.run({
            prompt: p.c.prompt,
            ...(system ? { system } : {}),
            provider: provider as ProviderName,
            model,
            fallback: false,
            maxTokens: suite.maxTokens ?? DEFAULT_MAX_TOKENS,
            ...(suite.temperature !== undefined ? { temperature: suite.temperature } : {}),
            ...(p.c.schema ? { jsonSchema: p.c.schema } : {}),
            operation: `eval:${suite.name}`,
            ...(options.signal ? { signal: options.signal } : {}),
          });
      const at = isoTime(clock);
      let cell: EvalCell;
      if (!r) {
        const blocked = guard?.blocked ?? '';
        cell = unanswered({
          blocked: blocked.slice(0, 500),
          assertions: [
            {
              type: 'not-refusal',
              pass: false,
              score: 0,
              reason: `blocked by the failure memory: ${blocked.slice(0, 250)}`,
            },
          ],
        });
      } else if (!r.ok) {
        cell = unanswered({ error: r.error.message.slice(0, 500) });
      } else {
        const assertions = p.c.assert.length
          ? await assertAll(
              p.c,
              {
                output: r.output,
                latency_ms: r.latency_ms,
                cost_usd: r.cost_usd,
                provider: r.provider,
                model: r.model,
              },
              {
                schemas: this.deps.schemas,
                judge: this.deps.judge,
                judgeTarget: suite.judge,
                signal: options.signal,
              },
            )
          : [
              {
                type: 'length' as const,
                ...(r.output.trim()
                  ? { pass: true, score: 1, reason: 'a non-empty answer (the case has no assertions)' }
                  : { pass: false, score: 0, reason: 'the answer is empty (the case has no assertions)' }),
              },
            ];
        const graded = assertions.filter((a) => !a.ungraded);
        const ungraded = assertions.some((a) => a.ungraded);
        const pass = !ungraded && graded.every((a) => a.pass);
        const score = graded.length ? graded.reduce((n, a) => n + a.score, 0) / graded.length : 0;
        const judgeCost = assertions.reduce((n, a) => n + (a.cost_usd ?? 0), 0);
        const trial = await this.deps.trials
          .record({
            operation: `eval:${suite.name}`,
            source: 'eval',
            prompt: p.c.prompt,
            output: r.output,
            provider: r.provider,
            model: r.model,
            usage: r.usage,
            cost_usd: r.cost_usd,
            latency_ms: r.latency_ms,
            graders: [],
            assertions: assertions.map((a) => ({
              type: a.type,
              pass: a.pass,
              score: a.score,
              reason: a.reason.slice(0, 500),
              ...(a.ungraded ? { ungraded: true as const } : {}),
            })),
            eval: { run_id: run.id, suite: suite.name, case_id: p.c.id, repeat: p.repeat },
            pass,
            score: Number(score.toFixed(4)),
            judge_cost_usd: judgeCost,
          })
          .catch(() => undefined);
        cell = {
          run_id: run.id,
          case_id: p.c.id,
          target: p.target,
          repeat: p.repeat,
          pass,
          score: Number(score.toFixed(4)),
          ...(ungraded ? { ungraded: true as const } : {}),
          output_preview: r.output.slice(0, 300),
          latency_ms: r.latency_ms,
          cost_usd: r.cost_usd,
          judge_cost_usd: judgeCost,
          assertions: assertions.map((a) => ({
            type: a.type,
            pass: a.pass,
            score: a.score,
            reason: a.reason.slice(0, 300),
            ...(a.ungraded ? { ungraded: true as const } : {}),
            ...(a.judged_by ? { judged_by: a.judged_by } : {}),
          })),
          ...(trial ? { trial_id: trial.id } : {}),
          at,
        };
      }
      // A cell cut short by a stop is not a result: it runs again on resume.
      if (signal.aborted) return;
      // Durable before it counts: a run killed after this line never asks this cell again.
      await this.deps.cells.append(cell);
      spent += cell.cost_usd + cell.judge_cost_usd;
      done++;
      options.onProgress?.(
        done,
        run.cells,
        `${p.c.id} on ${p.target}: ${cell.blocked ? 'blocked by the memory' : cell.error ? 'error' : cell.pass ? 'pass' : 'fail'}`,
      );
    };
    try {
      const inFlight = new Set<Promise<void>>();
      while (queue.length > 0 && !stop) {
        if (signal.aborted) {
          stop = this.stopping.signal.aborted ? 'the server stopped (resume it)' : 'cancelled';
          break;
        }
        const still = await this.deps.runs.read((d) => d.runs[run.id]);
        if (!still || still.lease?.owner !== this.deps.owner) {
          stop = 'another process took the run over';
          break;
        }
        while (inFlight.size >= run.concurrency) await Promise.race(inFlight);
        const next = queue[0]!;
        const cost = worstCase(next);
        const limit = run.max_cost_usd;
        if (limit !== undefined && spent + reserved + cost > limit) {
          if (inFlight.size > 0) {
            // Calls in flight may settle for less than reserved: wait, then decide on what was spent.
            await Promise.race(inFlight);
            continue;
          }
          stop = `cost limit $${limit}: the next call (${next.c.id} on ${next.target}, up to $${cost.toFixed(6)}) would pass it ($${spent.toFixed(6)} spent)`;
          break;
        }
        queue.shift();
        reserved += cost;
        const task: Promise<void> = one(next)
          .catch((error: unknown) => {
            this.deps.logger.error('evaluation cell failed', { error, run: run.id });
          })
          .finally(() => {
            reserved -= cost;
            inFlight.delete(task);
          });
        inFlight.add(task);
      }
      await Promise.all(inFlight);
    } catch (error) {
      stop = `failed: ${(error as Error).message}`;
    } finally {
      clearInterval(lease);
    }
    return this.deps.runs.update((d) => {
      const r = d.runs[run.id]!;
      if (r.lease?.owner === this.deps.owner) {
        r.status = stop ? (stop.startsWith('failed') ? 'failed' : 'stopped') : 'done';
        if (stop) r.stop_reason = stop;
        r.ended_at = isoTime(clock);
        delete r.lease;
      }
      return r;
    });
  }
}
