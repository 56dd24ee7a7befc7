/**
 * The immune system: remembers failures as patterns and guards the next prompt. A failure close
 * enough to a pattern of the same operation and type joins it (its wording becomes a variant), so
 * one pattern is one problem. A new prompt is matched by TF-IDF and, when an embedding model is
 * configured, by meaning as well (semantic.ts); a grey-zone match may go to the judge. A match
 * adds that pattern's guardrail: what went wrong last time (the graders' reasons, how the failing
 * answer began) and what worked later (the lesson), quoted as data. Escalation is the same for
 * every failure type: the first failure guards; a failure despite its guardrail (or the
 * `blockAfter`-th) escalates, and an escalated pattern blocks its own problem; a passing guarded
 * attempt or an override relaxes it. Stored as an event log shared by processes.
 */
import type { Clock } from '../core/clock.js';
import { isoTime } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { paginate } from '../core/pagination.js';
import type { Page, PageRequest } from '../core/pagination.js';
import type { Decision, EventStore } from '../storage/eventStore.js';
import type { Storage } from '../storage/storage.js';
import { dashboardOf } from './dashboardData.js';
import type { DashboardData } from './dashboardData.js';
import { assess, escalated, IMMUNE_DEFAULTS, topPatterns } from './assessment.js';
import type { AssessParams, CheckResult, MatchOptions, MatchReport, Ranked } from './assessment.js';
import {
  applyImmuneEvent,
  emptyImmuneState,
  HALF_LIFE_MS,
  HOUR,
  MAX_VARIANTS,
  PRUNE_STRENGTH,
  REINFORCE,
  SAME_WORDING,
  STALE_MS,
  strengthAt,
} from './patterns.js';
import type { FailurePattern, ImmuneEvent, ImmuneState, PatternDay, PortablePattern } from './patterns.js';
import type { SemanticStage } from './semantic.js';
import { buildMatchIndex, matchIndexPosition, writeMatchIndex } from './matchIndex.js';
import type { LogPosition } from './matchIndex.js';

const samePosition = (a: LogPosition, b: LogPosition): boolean =>
  a.seq === b.seq &&
  a.anchor === b.anchor &&
  Object.keys(a.offsets).length === Object.keys(b.offsets).length &&
  Object.entries(a.offsets).every(([name, offset]) => b.offsets[name] === offset);

const unknownPattern = (id: string): AppError =>
  new AppError('NOT_FOUND', `No failure pattern "${id}"`, { hint: 'immune_failures lists the pattern ids' });

/** Longest guardrail text a person may give a pattern (it is added to every matching prompt). */
export const MAX_GUARDRAIL = 400;

/** Weights of the two stages when both measured a document (they sum to 1). */
const TFIDF_WEIGHT = 0.25;
const SEMANTIC_WEIGHT = 0.75;
/**
 * Cosines at or below this count as unrelated (embedding models rarely go below it even for
 * unrelated texts); the semantic score rescales the rest to 0..1.
 */
const COSINE_FLOOR = 0.2;

export interface ImmuneOptions {
  /** Matches below this similarity are ignored. Default 0.35. */
  matchThreshold?: number;
  /** Risk at or above which an escalated pattern's match blocks. Default 0.9. */
  blockThreshold?: number;
  /**
   * The same problem: a failure this similar to a pattern of the same operation and type joins it,
   * and a grey-zone match the judge confirms counts as this similar. Default 0.6.
   */
  mergeThreshold?: number;
  /** Escalation: a pattern that failed this many times since it was relaxed may block. Default 3. */
  blockAfter?: number;
  /** New patterns are marked shared (published to the federation hub on push). Default true. */
  shareByDefault?: boolean;
  /** The semantic stage (an embedding model); absent: TF-IDF only. */
  semantic?: SemanticStage | undefined;
  /**
   * Asks the judge whether a prompt asks for the same task as a remembered failing one (grey-zone
   * matches only); undefined when it could not say. Absent: no judge stage.
   */
  sameTask?: ((remembered: string, prompt: string) => Promise<boolean | undefined>) | undefined;
  /** Patterns whose text stays on the machine: never embedded (matched by TF-IDF only). */
  keepLocal?: ((p: FailurePattern) => boolean) | undefined;
  /**
   * Keep the match index beside the log (matchIndex.ts) current: rewritten a moment after this
   * process changes the memory. Default true; a process that lives for one call writes it itself
   * (writeMatchIndex).
   */
  matchIndex?: boolean;
  /** Start from a match index's position and the patterns changed since (only for appending). */
  start?: { seq: number; offsets: Record<string, number>; state: ImmuneState };
}

/**
 * How long after a change the match index is rewritten (changes in between share one write): a
 * second, or ten times the last rewrite, so a large memory spends at most a tenth of its time on it.
 */
const INDEX_DELAY_MS = 1_000;

export interface DecayReport {
  at: string;
  half_life_hours: number;
  stale_days: number;
  prune_below: number;
  patterns: number;
  /** Strength distribution now. */
  strong: number;
  weak: number;
  stale: number;
  pruned: Array<{ id: string; strength: number; last_activity: string; failure_type: string }>;
  applied: boolean;
}

/** What a failure to remember carries. */
export interface FailureRecord {
  operation: string;
  failure_type: string;
  prompt: string;
  output: string;
  grader_scores: Record<string, number>;
  /** Why the failing graders failed it. */
  grader_reasons?: Record<string, string> | undefined;
  model?: string | undefined;
  /** The prompt carried guardrails and still failed (a guardrail miss, for the dashboard). */
  guarded?: boolean | undefined;
  /** The patterns whose guardrails the prompt carried: a failure joining one of them escalates it. */
  guarded_by?: readonly string[] | undefined;
  /** Whose work failed (`claude_code`, ...); default: derived from the operation. */
  source?: string | undefined;
}

const cut = (reasons: Record<string, string> | undefined): Record<string, string> =>
  Object.fromEntries(Object.entries(reasons ?? {}).map(([k, v]) => [k, String(v).slice(0, 300)]));

export class ImmuneSystem {
  private readonly store: EventStore<ImmuneState, ImmuneEvent>;
  private readonly matchThreshold: number;
  private readonly blockThreshold: number;
  private readonly mergeThreshold: number;
  private readonly shareByDefault: boolean;
  private readonly blockAfter: number;
  private readonly semantic: SemanticStage | undefined;
  private readonly sameTask: ImmuneOptions['sameTask'];
  private readonly keepLocal: (p: FailurePattern) => boolean;
  /** How far the semantic stage has indexed the state's documents (and which state object). */
  private synced: { state: ImmuneState | undefined; at: number } = { state: undefined, at: 0 };
  /** Documents without a cached vector yet: embedded in the background. */
  private readonly unembedded = new Set<string>();
  private backfilling: Promise<void> | undefined;
  private readonly keepIndex: boolean;
  private indexTimer: NodeJS.Timeout | undefined;
  private indexWriteMs = 0;

  constructor(
    storage: Storage,
    private readonly clock: Clock,
    options: ImmuneOptions = {},
  ) {
    this.store = storage.events<ImmuneState, ImmuneEvent>('immune', {
      initial: emptyImmuneState,
      apply: applyImmuneEvent,
      ...(options.start ? { start: options.start } : {}),
    });
    this.keepIndex = options.matchIndex ?? true;
    this.matchThreshold = options.matchThreshold ?? IMMUNE_DEFAULTS.matchThreshold;
    this.blockThreshold = options.blockThreshold ?? IMMUNE_DEFAULTS.blockThreshold;
    this.mergeThreshold = options.mergeThreshold ?? IMMUNE_DEFAULTS.mergeThreshold;
    this.shareByDefault = options.shareByDefault ?? true;
    this.blockAfter = options.blockAfter ?? IMMUNE_DEFAULTS.blockAfter;
    this.semantic = options.semantic;
    this.sameTask = options.sameTask;
    this.keepLocal = options.keepLocal ?? (() => false);
  }

  /** Whether a pattern may block: since it was last relaxed it failed despite its guardrail, or often. */
  private escalated(p: FailurePattern): boolean {
    return escalated(this.blockAfter, p);
  }

  /** Appends through the log, and has the match index rewritten soon after. */
  private transact<R>(decide: (state: Readonly<ImmuneState>) => Decision<ImmuneEvent, R>): Promise<R> {
    const done = this.store.transact(decide);
    if (this.keepIndex && !this.indexTimer)
      void done.then(
        () => {
          this.indexTimer ??= setTimeout(
            () => {
              this.indexTimer = undefined;
              this.writeMatchIndex().catch(() => undefined);
            },
            Math.max(INDEX_DELAY_MS, 10 * this.indexWriteMs),
          ).unref();
        },
        () => undefined,
      );
    return done;
  }

  /**
   * Writes the match index of the memory as this process has it caught up, unless the one on
   * disk already stands there. Answers whether it wrote.
   */
  async writeMatchIndex(): Promise<boolean> {
    return this.store.read((state) => {
      const at = this.store.position();
      if (!at) return false;
      const current = matchIndexPosition(this.store.dir);
      if (current && samePosition(current, at)) return false;
      const started = performance.now();
      writeMatchIndex(this.store.dir, buildMatchIndex(state, at));
      this.indexWriteMs = performance.now() - started;
      return true;
    });
  }

  /** What decides a check beyond its matches (assessment.ts). */
  private get assessing(): AssessParams {
    return {
      blockThreshold: this.blockThreshold,
      mergeThreshold: this.mergeThreshold,
      blockAfter: this.blockAfter,
      keepLocal: this.keepLocal,
    };
  }

  /** Records that a caller ran a blocked prompt anyway, and why (it relaxes those patterns). */
  async recordOverride(patternIds: readonly string[], reason: string, by: string): Promise<void> {
    if (patternIds.length === 0) return;
    await this.transact(() => ({
      event: { type: 'overridden', ids: [...patternIds], reason, by, at: isoTime(this.clock) },
      result: undefined,
    }));
  }

  get blockAt(): number {
    return this.blockThreshold;
  }

  /** The semantic stage's model and counters, when one is configured. */
  semanticStatus():
    | {
        model: string;
        indexed: number;
        waiting: number;
        calls: number;
        texts: number;
        cached: number;
        failures: number;
        average_call_ms: number;
        last_error?: string;
      }
    | undefined {
    const s = this.semantic;
    if (!s) return undefined;
    return {
      model: s.model,
      indexed: s.indexed,
      waiting: this.unembedded.size,
      calls: s.stats.calls,
      texts: s.stats.texts,
      cached: s.stats.cached,
      failures: s.stats.failures,
      average_call_ms: s.stats.calls ? Math.round(s.stats.ms / s.stats.calls) : 0,
      ...(s.stats.last_error ? { last_error: s.stats.last_error } : {}),
    };
  }

  /** Brings the semantic stage's matrix up to the state's documents (incremental). */
  private syncSemantic(state: ImmuneState): void {
    const semantic = this.semantic;
    if (!semantic) return;
    if (this.synced.state !== state) this.synced = { state, at: 0 };
    const order = state.docOrder;
    for (let i = this.synced.at; i < order.length; i++) {
      const doc = order[i]!;
      const d = state.docs.get(doc);
      const p = d ? state.patterns.get(d.pattern) : undefined;
      if (!d || !p || this.keepLocal(p)) {
        semantic.forget(doc);
        continue;
      }
      if (semantic.index(doc, d.text)) this.unembedded.delete(doc);
      else this.unembedded.add(doc);
    }
    this.synced.at = order.length;
  }

  /** Embeds the documents that have no vector yet, in the background, until none is left or a call fails. */
  private backfill(): void {
    const semantic = this.semantic;
    if (!semantic || this.backfilling || this.unembedded.size === 0) return;
    this.backfilling = (async () => {
      try {
        while (this.unembedded.size > 0) {
          const docs = [...this.unembedded].slice(0, 256);
          const texts = await this.store.read((state) => docs.map((d) => state.docs.get(d)?.text));
          const live = docs.flatMap((d, i) => (texts[i] === undefined ? [] : [[d, texts[i]] as const]));
          for (const d of docs) if (!live.some(([x]) => x === d)) this.unembedded.delete(d);
          if (live.length === 0) continue;
          const r = await semantic.vectors(
            live.map(([, t]) => t),
            'index',
          );
          if (!r.ok) return;
          for (const [d, t] of live) if (semantic.index(d, t)) this.unembedded.delete(d);
        }
      } catch {
        // Storage closed or the model unreachable: the next check tries again.
      } finally {
        this.backfilling = undefined;
      }
    })();
  }

  /** Waits for the background embedding of remembered texts (tests and benchmarks). */
  async settled(): Promise<void> {
    while (this.backfilling) await this.backfilling;
  }

  /** The prompt's vector for the semantic stage, or why there is none. */
  private async queryVector(
    prompt: string,
    offline = false,
  ): Promise<{ q?: Float32Array; report: MatchReport }> {
    if (!this.semantic) return { report: { stage: 'tfidf' } };
    if (offline)
      return {
        report: {
          stage: 'tfidf',
          embedding_model: this.semantic.model,
          fallback_reason: 'this text stays on the machine: matched by TF-IDF only',
        },
      };
    const r = await this.semantic.vectors([prompt], 'query');
    if (!r.ok)
      return {
        report: {
          stage: 'tfidf',
          embedding_model: this.semantic.model,
          fallback_reason: `embeddings unavailable, matched by TF-IDF only: ${r.error}`.slice(0, 400),
        },
      };
    return {
      q: r.vectors[0]!,
      report: { stage: 'semantic', embedding_model: this.semantic.model, cached: !r.called },
    };
  }

  /**
   * The patterns closest to a prompt, best first, with the closest wording of each: TF-IDF alone,
   * or both stages combined per document where it has a vector.
   */
  private rank(
    state: ImmuneState,
    prompt: string,
    q: Float32Array | undefined,
    floor: number,
    k: number,
  ): Ranked[] {
    const semantic = q ? this.semantic : undefined;
    if (semantic) this.syncSemantic(state);
    const tfidf = new Map<string, number>();
    for (const m of state.index.query(prompt, semantic ? 50 : 20, semantic ? 0.1 : floor))
      tfidf.set(m.id, m.similarity);
    const docs = new Set(tfidf.keys());
    if (semantic) for (const h of semantic.search(q!, 20, COSINE_FLOOR)) docs.add(h.doc);
    const candidates: Ranked[] = [];
    for (const doc of docs) {
      const d = state.docs.get(doc);
      const p = d ? state.patterns.get(d.pattern) : undefined;
      if (!p) continue;
      const t = tfidf.get(doc) ?? 0;
      const cos = semantic?.cosine(q!, doc);
      const r: Ranked =
        cos === undefined
          ? { p, doc, similarity: t, tfidf: t, stage: 'tfidf' }
          : (() => {
              const sem = Math.max(0, Math.min(1, (cos - COSINE_FLOOR) / (1 - COSINE_FLOOR)));
              return {
                p,
                doc,
                similarity: TFIDF_WEIGHT * t + SEMANTIC_WEIGHT * sem,
                tfidf: t,
                semantic: sem,
                stage: 'semantic' as const,
              };
            })();
      candidates.push(r);
    }
    return topPatterns(candidates, floor, k);
  }

  /** Asks the judge about grey-zone matches: the same task counts as the same problem, another is dropped. */
  private async judgeGreyZone(
    ranked: Ranked[],
    prompt: string,
  ): Promise<{ ranked: Ranked[]; judged: number }> {
    if (!this.sameTask) return { ranked, judged: 0 };
    const grey = ranked.filter((r) => r.similarity < this.mergeThreshold && !this.keepLocal(r.p)).slice(0, 2);
    if (grey.length === 0) return { ranked, judged: 0 };
    const verdicts = await Promise.all(
      grey.map((r) =>
        this.store
          .read((state) => state.docs.get(r.doc)?.text ?? r.p.prompt_summary)
          .then((text) => this.sameTask!(text, prompt))
          .catch(() => undefined),
      ),
    );
    const out: Ranked[] = [];
    for (const r of ranked) {
      const i = grey.indexOf(r);
      const v = i >= 0 ? verdicts[i] : undefined;
      if (v === false) continue;
      out.push(
        v === true ? { ...r, similarity: Math.max(r.similarity, this.mergeThreshold), stage: 'judge' } : r,
      );
    }
    return { ranked: out, judged: verdicts.filter((v) => v !== undefined).length };
  }

  /** Remembers a failure: a new pattern, or one more occurrence of the problem it is (a variant when reworded). */
  async recordFailure(
    f: FailureRecord,
    options: MatchOptions = {},
  ): Promise<{ pattern_id: string; merged: boolean; variant?: boolean }> {
    const { q } = await this.queryVector(f.prompt, options.offline);
    let judged: Ranked | undefined;
    if (this.sameTask && !options.offline) {
      // A grey-zone candidate of the same operation and type the judge calls the same task joins it.
      const candidates = await this.store.read((state) =>
        this.rank(state, f.prompt, q, this.matchThreshold, 5).filter(
          (r) => r.p.operation === f.operation && r.p.failure_type === f.failure_type,
        ),
      );
      const top = candidates[0];
      if (top && top.similarity < this.mergeThreshold) {
        const r = await this.judgeGreyZone([top], f.prompt);
        judged = r.ranked[0]?.stage === 'judge' ? r.ranked[0] : undefined;
      }
    }
    const text = f.prompt.slice(0, 4000);
    const result = await this.transact(
      (state): Decision<ImmuneEvent, { pattern_id: string; merged: boolean; variant?: boolean }> => {
        const at = isoTime(this.clock);
        const flags = {
          ...(f.model ? { model: f.model } : {}),
          ...(f.guarded || f.guarded_by?.length ? { guarded: true } : {}),
        };
        const evidence = { reasons: cut(f.grader_reasons), output: f.output.slice(0, 300) };
        const ranked = this.rank(state, f.prompt, q, this.matchThreshold, 5);
        const same =
          ranked.find(
            (r) =>
              r.p.operation === f.operation &&
              r.p.failure_type === f.failure_type &&
              r.similarity >= this.mergeThreshold,
          ) ?? (judged && state.patterns.has(judged.p.id) ? judged : undefined);
        if (same) {
          const p = same.p;
          // The same wording again counts on its document; another joins as a variant (bounded).
          const known = same.similarity >= SAME_WORDING || same.tfidf >= SAME_WORDING;
          const variant = known
            ? same.doc === p.id
              ? undefined
              : { doc: same.doc }
            : (p.variants?.length ?? 0) < MAX_VARIANTS
              ? {
                  doc: `${p.id}#${(p.variants ?? []).reduce((n, v) => Math.max(n, Number(v.doc.split('#').pop()) || 0), 0) + 1}`,
                  text,
                  similarity: Number(same.similarity.toFixed(4)),
                  stage: same.stage,
                }
              : undefined;
          return {
            event: {
              type: 'occurrence',
              id: p.id,
              at,
              ...flags,
              guarded_here: f.guarded_by?.includes(p.id) ?? false,
              ...(variant ? { variant } : {}),
              evidence,
            },
            result: {
              pattern_id: p.id,
              merged: true,
              ...(variant && 'text' in variant ? { variant: true } : {}),
            },
          };
        }
        const pattern: FailurePattern = {
          id: newId('pat'),
          operation: f.operation,
          ...(f.source ? { source: f.source } : {}),
          failure_type: f.failure_type,
          ...(f.model ? { model: f.model } : {}),
          prompt_summary: f.prompt.slice(0, 300),
          output_summary: f.output.slice(0, 200),
          grader_scores: f.grader_scores,
          ...(Object.keys(evidence.reasons).length ? { grader_reasons: evidence.reasons } : {}),
          evidence: { ...evidence, at },
          occurrences: 1,
          streak: { failures: 1, guarded: 0, since: at },
          hits: 0,
          saves: 0,
          false_positives: 0,
          first_seen: at,
          last_seen: at,
          last_activity: at,
          strength: REINFORCE.occurrence,
          strength_at: at,
          shared: this.shareByDefault,
          updated_seq: 0,
          updated_at: at,
        };
        return {
          event: { type: 'pattern_added', pattern, text, ...(flags.guarded ? { guarded: true } : {}) },
          result: { pattern_id: pattern.id, merged: false },
        };
      },
    );
    if (this.semantic) {
      await this.store.read((state) => this.syncSemantic(state));
      this.backfill();
    }
    return result;
  }

  /** Risk of a prompt from the failures it resembles; guardrails; whether to proceed. */
  async check(prompt: string, operation?: string, options: MatchOptions = {}): Promise<CheckResult> {
    const { q, report } = await this.queryVector(prompt, options.offline);
    let ranked = await this.store.read((state) => this.rank(state, prompt, q, this.matchThreshold, 5));
    if (this.semantic) this.backfill();
    if (this.sameTask && !options.offline) {
      const r = await this.judgeGreyZone(ranked, prompt);
      ranked = r.ranked;
      if (r.judged) report.judged = r.judged;
    }
    return assess(ranked, prompt, operation, options, this.assessing, report, this.clock.now());
  }

  /**
   * A person splits a wording off a pattern (the review desk): it becomes a pattern of its own,
   * with that wording's failures; the pattern keeps the rest.
   * @throws AppError NOT_FOUND for an unknown pattern or wording.
   */
  async split(id: string, doc: string, by: string): Promise<FailurePattern> {
    const newIdValue = newId('pat');
    await this.transact((state) => {
      const p = state.patterns.get(id);
      if (!p)
        throw new AppError('NOT_FOUND', `No failure pattern "${id}"`, {
          hint: 'immune_failures lists the pattern ids',
        });
      if (!p.variants?.some((v) => v.doc === doc))
        throw new AppError('NOT_FOUND', `Pattern ${id} has no wording "${doc}"`, {
          hint: 'The pattern page lists its wordings',
        });
      return {
        event: { type: 'split', id, doc, new_id: newIdValue, by, at: isoTime(this.clock) },
        result: undefined,
      };
    });
    return this.get(newIdValue);
  }

  /** Records what fixed a pattern's failure (a later attempt that worked); shown with its matches. */
  async recordLesson(id: string, lesson: string): Promise<void> {
    await this.transact((state) => {
      if (!state.patterns.has(id)) return { result: undefined };
      return {
        event: { type: 'lesson', id, at: isoTime(this.clock), lesson: lesson.slice(0, 600) },
        result: undefined,
      };
    });
  }

  /** A spawn's pre-check: counts it, and reinforces the patterns it matched (hits). */
  async recordCheck(check: CheckResult): Promise<void> {
    await this.transact(() => ({
      event: {
        type: 'checked',
        at: isoTime(this.clock),
        ids: check.matches.map((m) => m.pattern_id),
        blocked: !check.should_proceed,
        ...(check.blocked_by ? { blocked_by: check.blocked_by } : {}),
      },
      result: undefined,
    }));
  }

  /**
   * A person's guardrail text for one pattern (from the review desk): added to every prompt that
   * matches it, in place of its failure type's default. Empty text restores the default.
   * @throws AppError NOT_FOUND for an unknown pattern, INVALID_INPUT for text that cannot be a guardrail.
   */
  async setGuardrail(id: string, text: string, by: string): Promise<FailurePattern> {
    const clean = text.replace(/\s+/g, ' ').trim();
    if (clean.length > MAX_GUARDRAIL)
      throw new AppError(
        'INVALID_INPUT',
        `A guardrail is at most ${MAX_GUARDRAIL} characters (got ${clean.length})`,
      );
    await this.transact((state) => {
      if (!state.patterns.has(id))
        throw new AppError('NOT_FOUND', `No failure pattern "${id}"`, {
          hint: 'immune_failures lists the pattern ids',
        });
      return {
        event: { type: 'guardrail', id, text: clean, by, at: isoTime(this.clock) },
        result: undefined,
      };
    });
    return this.get(id);
  }

  /**
   * A pattern with what it did per day, oldest first (failures, checks it matched, checks it
   * blocked, saves), both from one read: the counts on the pattern and the days always agree.
   * @throws AppError NOT_FOUND naming an unknown id.
   */
  async withTimeline(
    id: string,
  ): Promise<{ pattern: FailurePattern; days: Array<PatternDay & { day: string }> }> {
    const found = await this.store.read((state) => {
      const p = state.patterns.get(id);
      if (!p) return undefined;
      const days = [...(state.timeline.get(id) ?? new Map<string, PatternDay>())]
        .map(([day, d]) => ({ day, ...d }))
        .sort((a, b) => a.day.localeCompare(b.day));
      return { pattern: structuredClone(p), days };
    });
    if (!found) throw unknownPattern(id);
    return found;
  }

  /** The sequence number of the last event seen, caught up with other processes (changes only when the memory does). */
  async version(): Promise<number> {
    return this.store.read((_state, version) => version);
  }

  /**
   * A guarded prompt that matched these patterns then succeeded; the patterns it was the same
   * problem as are relaxed (their next failure guards again before it blocks).
   */
  async recordSave(patternIds: readonly string[], relaxed: readonly string[] = []): Promise<void> {
    if (patternIds.length === 0) return;
    await this.transact(() => ({
      event: {
        type: 'saved',
        ids: [...patternIds],
        at: isoTime(this.clock),
        ...(relaxed.length ? { relaxed: [...relaxed] } : {}),
      },
      result: undefined,
    }));
  }

  /**
   * Feedback on a match: a false positive halves the pattern's strength, a confirmation reinforces it.
   * @throws AppError NOT_FOUND for an unknown pattern.
   */
  async feedback(id: string, verdict: 'false_positive' | 'confirmed'): Promise<FailurePattern> {
    return this.store
      .transact((state) => {
        if (!state.patterns.has(id))
          throw new AppError('NOT_FOUND', `No failure pattern "${id}"`, {
            hint: 'immune_failures lists the pattern ids',
          });
        return { event: { type: 'feedback', id, verdict, at: isoTime(this.clock) }, result: undefined };
      })
      .then(() => this.get(id));
  }

  /**
   * Retires a pattern a person judged wrong or obsolete: it is removed from the memory (a `pruned`
   * event with the reason and who decided).
   * @throws AppError NOT_FOUND
   */
  async retire(id: string, reason: string, by: string): Promise<void> {
    await this.transact((state) => {
      if (!state.patterns.has(id))
        throw new AppError('NOT_FOUND', `No failure pattern "${id}"`, {
          hint: 'immune_failures lists the pattern ids',
        });
      return {
        event: { type: 'pruned', ids: [id], at: isoTime(this.clock), reason: `retired by ${by}: ${reason}` },
        result: undefined,
      };
    });
  }

  /** Patterns with the whole text they were learned from (for test cases), newest first. */
  async withTexts(
    filter: (p: FailurePattern) => boolean,
    limit: number,
  ): Promise<Array<{ pattern: FailurePattern; text: string }>> {
    return this.store.read((state) =>
      [...state.order]
        .reverse()
        .map((id) => state.patterns.get(id)!)
        .filter(filter)
        .slice(0, limit)
        .map((p) => ({ pattern: structuredClone(p), text: state.texts.get(p.id) ?? p.prompt_summary })),
    );
  }

  async get(id: string): Promise<FailurePattern> {
    const p = await this.store.read((state) => state.patterns.get(id));
    if (!p) throw unknownPattern(id);
    return structuredClone(p);
  }

  /**
   * Marks own patterns shared or not (imported ones are never re-shared).
   * @throws AppError NOT_FOUND naming unknown ids.
   */
  async share(ids: readonly string[], shared: boolean): Promise<{ changed: number }> {
    return this.transact((state) => {
      const unknown = ids.filter((id) => !state.patterns.has(id));
      if (unknown.length)
        throw new AppError('NOT_FOUND', `No failure pattern ${unknown.map((u) => `"${u}"`).join(', ')}`, {
          hint: 'immune_failures lists the pattern ids',
        });
      const own = ids.filter(
        (id) => !state.patterns.get(id)!.origin && state.patterns.get(id)!.shared !== shared,
      );
      if (own.length === 0) return { result: { changed: 0 } };
      return {
        event: { type: 'shared', ids: own, shared, at: isoTime(this.clock) },
        result: { changed: own.length },
      };
    });
  }

  /** What decay would prune now (and prunes it when `apply`). */
  async decay(apply: boolean): Promise<DecayReport> {
    const nowMs = this.clock.now();
    const at = isoTime(this.clock);
    const evaluate = (state: Readonly<ImmuneState>): DecayReport => {
      let strong = 0;
      let weak = 0;
      let stale = 0;
      const pruned: DecayReport['pruned'] = [];
      for (const p of state.patterns.values()) {
        const s = strengthAt(p, nowMs);
        const isStale = nowMs - Date.parse(p.last_activity) > STALE_MS;
        if (s >= 1) strong++;
        if (s < PRUNE_STRENGTH) weak++;
        if (isStale) stale++;
        if (isStale && s < PRUNE_STRENGTH)
          pruned.push({
            id: p.id,
            strength: Number(s.toFixed(4)),
            last_activity: p.last_activity,
            failure_type: p.failure_type,
          });
      }
      return {
        at,
        half_life_hours: HALF_LIFE_MS / HOUR,
        stale_days: STALE_MS / (24 * HOUR),
        prune_below: PRUNE_STRENGTH,
        patterns: state.patterns.size,
        strong,
        weak,
        stale,
        pruned,
        applied: false,
      };
    };
    if (!apply) return this.store.read(evaluate);
    return this.transact((state) => {
      const report = evaluate(state);
      if (report.pruned.length === 0) return { result: { ...report, applied: true } };
      return {
        event: { type: 'pruned', ids: report.pruned.map((p) => p.id), at, reason: 'decay' },
        result: { ...report, applied: true },
      };
    });
  }

  /** Imports patterns from other projects (upserted by their lineage). */
  async importPatterns(patterns: PortablePattern[]): Promise<{ imported: number; updated: number }> {
    if (patterns.length === 0) return { imported: 0, updated: 0 };
    return this.transact((state) => {
      let updated = 0;
      for (const q of patterns) if (state.byOrigin.has(`${q.project}/${q.pattern_id}`)) updated++;
      return {
        event: { type: 'imported', patterns, at: isoTime(this.clock) },
        result: { imported: patterns.length - updated, updated },
      };
    });
  }

  /** Removes imported patterns whose source withdrew them. */
  async withdrawImported(origins: Array<{ project: string; pattern_id: string }>): Promise<number> {
    return this.transact((state) => {
      const ids = origins.flatMap((o) => {
        const id = state.byOrigin.get(`${o.project}/${o.pattern_id}`);
        return id ? [id] : [];
      });
      if (ids.length === 0) return { result: 0 };
      return {
        event: { type: 'pruned', ids, at: isoTime(this.clock), reason: 'withdrawn' },
        result: ids.length,
      };
    });
  }

  /**
   * Own patterns changed after `sinceSeq`, ready to publish (shared ones) or withdraw (unshared or
   * removed), and the sequence number to resume from.
   */
  async changesSince(
    sinceSeq: number,
    project: string,
  ): Promise<{ seq: number; publish: PortablePattern[]; withdraw: string[] }> {
    return this.store.read((state, version) => {
      const publish: PortablePattern[] = [];
      const withdraw: string[] = [];
      for (const p of state.patterns.values()) {
        if (p.origin || p.updated_seq <= sinceSeq) continue;
        if (!p.shared) {
          withdraw.push(p.id);
          continue;
        }
        publish.push({
          project,
          pattern_id: p.id,
          operation: p.operation,
          failure_type: p.failure_type,
          ...(p.model ? { model: p.model } : {}),
          prompt_summary: p.prompt_summary,
          output_summary: p.output_summary,
          text: state.texts.get(p.id) ?? p.prompt_summary,
          occurrences: p.occurrences,
          saves: p.saves,
          strength: p.strength,
          strength_at: p.strength_at,
          first_seen: p.first_seen,
          last_seen: p.last_seen,
          updated_at: p.updated_at,
        });
      }
      for (const [id, seq] of state.removed) if (seq > sinceSeq && !id.startsWith('imp-')) withdraw.push(id);
      return { seq: version, publish, withdraw };
    });
  }

  async status() {
    const now = this.clock.now();
    const semantic = this.semanticStatus();
    return this.store.read((state) => {
      const byType: Record<string, number> = {};
      let occurrences = 0;
      let saves = 0;
      let imported = 0;
      let shared = 0;
      let weak = 0;
      let guardrailsEdited = 0;
      let variants = 0;
      let escalated = 0;
      let lessons = 0;
      for (const p of state.patterns.values()) {
        if (p.guardrail) guardrailsEdited++;
        variants += p.variants?.length ?? 0;
        if (this.escalated(p)) escalated++;
        if (p.lesson) lessons++;
        byType[p.failure_type] = (byType[p.failure_type] ?? 0) + p.occurrences;
        occurrences += p.occurrences;
        saves += p.saves;
        if (p.origin) imported++;
        if (p.shared && !p.origin) shared++;
        if (strengthAt(p, now) < PRUNE_STRENGTH) weak++;
      }
      return {
        patterns: state.patterns.size,
        occurrences,
        saves,
        imported,
        shared,
        weak,
        guardrails_edited: guardrailsEdited,
        by_failure_type: byType,
        block_threshold: this.blockThreshold,
        variants,
        escalated,
        lessons,
        matching: {
          stages: ['tfidf', ...(this.semantic ? ['semantic'] : []), ...(this.sameTask ? ['judge'] : [])],
          merge_threshold: this.mergeThreshold,
          ...(semantic ? { semantic } : {}),
        },
      };
    });
  }

  /** Everything the dashboard shows, over the last `days` days. */
  async dashboard(days: number): Promise<DashboardData> {
    const nowMs = this.clock.now();
    return this.store.read((state) => dashboardOf(state, days, nowMs));
  }

  async list(
    page: PageRequest & { failure_type?: string | undefined; source?: string | undefined },
  ): Promise<Page<FailurePattern>> {
    return this.store.read((state) => {
      const all = [...state.order]
        .reverse()
        .map((id) => state.patterns.get(id)!)
        .filter((p) => !page.failure_type || p.failure_type === page.failure_type)
        .filter((p) => !page.source || (p.source ?? p.operation.split(':')[0]) === page.source);
      return paginate(all, page);
    });
  }
}
