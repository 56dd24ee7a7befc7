/**
 * The immune system: remembers failures as patterns and guards the next prompt. Every failing
 * trial becomes a pattern (near-identical failures of one operation and type merge into it);
 * a new prompt is matched against them by TF-IDF similarity; matches raise its risk and add
 * guardrails specific to the failure types, and a very risky prompt is blocked. Patterns record
 * the saves of guarded prompts that then succeeded. Stored as an event log shared by processes.
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
import { GUARDRAILS, INJECTION, SEVERITY } from './guardrails.js';
import {
  applyImmuneEvent,
  emptyImmuneState,
  HALF_LIFE_MS,
  HOUR,
  PRUNE_STRENGTH,
  REINFORCE,
  STALE_MS,
  strengthAt,
} from './patterns.js';
import type { FailurePattern, ImmuneEvent, ImmuneState, PatternDay, PortablePattern } from './patterns.js';

/** Longest guardrail text a person may give a pattern (it is added to every matching prompt). */
export const MAX_GUARDRAIL = 400;

export interface ImmuneOptions {
  /** Matches below this similarity are ignored. Default 0.35. */
  matchThreshold?: number;
  /** Risk at or above this blocks the call. Default 0.9. */
  blockThreshold?: number;
  /** A failure this similar to a pattern of the same operation and type merges into it. Default 0.85. */
  mergeThreshold?: number;
  /**
   * Escalation: a pattern blocks (at blockThreshold) only once it failed this many times, or once it
   * failed again although its guardrails were applied. Before that a match adds guardrails. Default 3.
   */
  blockAfter?: number;
  /** New patterns are marked shared (published to the federation hub on push). Default true. */
  shareByDefault?: boolean;
}

export interface CheckResult {
  risk: number;
  should_proceed: boolean;
  matches: Array<{
    pattern_id: string;
    similarity: number;
    failure_type: string;
    operation: string;
    occurrences: number;
    /** Repeated or failed despite guardrails: it may block (otherwise it only guards). */
    escalated: boolean;
    /** Decayed strength now (1 = a fresh failure). */
    strength: number;
    prompt_summary: string;
    /** What fixed it last time, when known. */
    lesson?: string;
    /** Whose work failed (claude_code, spawn_agent, ...). */
    source?: string;
    /** Lineage of a pattern imported from another project. */
    origin?: { project: string; pattern_id: string };
    /** A person's guardrail text for this pattern (in place of its type's default). */
    guardrail?: string;
  }>;
  warnings: string[];
  guardrails: string[];
  injection_markers: string[];
  /** Why it is blocked (which pattern, with what evidence). */
  block_reason?: string;
  /** The pattern that blocked it. */
  blocked_by?: string;
}

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

export class ImmuneSystem {
  private readonly store: EventStore<ImmuneState, ImmuneEvent>;
  private readonly matchThreshold: number;
  private readonly blockThreshold: number;
  private readonly mergeThreshold: number;
  private readonly shareByDefault: boolean;
  private readonly blockAfter: number;

  constructor(
    storage: Storage,
    private readonly clock: Clock,
    options: ImmuneOptions = {},
  ) {
    this.store = storage.events<ImmuneState, ImmuneEvent>('immune', {
      initial: emptyImmuneState,
      apply: applyImmuneEvent,
    });
    this.matchThreshold = options.matchThreshold ?? 0.35;
    this.blockThreshold = options.blockThreshold ?? 0.9;
    this.mergeThreshold = options.mergeThreshold ?? 0.85;
    this.shareByDefault = options.shareByDefault ?? true;
    this.blockAfter = options.blockAfter ?? 3;
  }

  /** Whether a pattern has the evidence to block: repeated, or failed despite its guardrails. */
  private escalated(p: FailurePattern): boolean {
    return p.occurrences >= this.blockAfter || (p.guarded_occurrences ?? 0) >= 1;
  }

  /** Records that a caller ran a blocked prompt anyway, and why. */
  async recordOverride(patternIds: readonly string[], reason: string, by: string): Promise<void> {
    if (patternIds.length === 0) return;
    await this.store.transact(() => ({
      event: { type: 'overridden', ids: [...patternIds], reason, by, at: isoTime(this.clock) },
      result: undefined,
    }));
  }

  get blockAt(): number {
    return this.blockThreshold;
  }

  /** Remembers a failure: a new pattern, or one more occurrence of a near-identical one. */
  async recordFailure(f: {
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
    /** Whose work failed (`claude_code`, ...); default: derived from the operation. */
    source?: string | undefined;
  }): Promise<{ pattern_id: string; merged: boolean }> {
    return this.store.transact((state): Decision<ImmuneEvent, { pattern_id: string; merged: boolean }> => {
      const at = isoTime(this.clock);
      const flags = {
        ...(f.model ? { model: f.model } : {}),
        ...(f.guarded ? { guarded: true } : {}),
      };
      for (const m of state.index.query(f.prompt, 5, this.mergeThreshold)) {
        const p = state.patterns.get(m.id);
        if (p && p.operation === f.operation && p.failure_type === f.failure_type) {
          return {
            event: { type: 'occurrence', id: p.id, at, ...flags },
            result: { pattern_id: p.id, merged: true },
          };
        }
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
        ...(f.grader_reasons && Object.keys(f.grader_reasons).length
          ? {
              grader_reasons: Object.fromEntries(
                Object.entries(f.grader_reasons).map(([k, v]) => [k, v.slice(0, 300)]),
              ),
            }
          : {}),
        occurrences: 1,
        ...(f.guarded ? { guarded_occurrences: 1 } : {}),
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
        event: {
          type: 'pattern_added',
          pattern,
          text: f.prompt.slice(0, 4000),
          ...(f.guarded ? { guarded: true } : {}),
        },
        result: { pattern_id: pattern.id, merged: false },
      };
    });
  }

  /** Risk of a prompt from the failures it resembles; guardrails; whether to proceed. */
  async check(prompt: string, operation?: string): Promise<CheckResult> {
    const injection = INJECTION.filter((re) => re.test(prompt)).map((re) => re.source);
    const now = this.clock.now();
    return this.store.read((state) => {
      const matches = state.index.query(prompt, 5, this.matchThreshold).flatMap((m) => {
        const p = state.patterns.get(m.id);
        return p ? [{ p, similarity: m.similarity, strength: strengthAt(p, now) }] : [];
      });
      let risk = 0;
      // Only patterns with evidence may block; the others guard.
      let blockRisk = 0;
      let blocker: FailurePattern | undefined;
      for (const { p, similarity, strength } of matches) {
        // Similarity decides; recurrence, severity, the same operation and the pattern's
        // (decayed) strength only scale it.
        const recurrence = 1 + Math.min(p.occurrences - 1, 9) / 30;
        const sameOperation = operation && p.operation === operation ? 1.05 : 1;
        const vigour = 0.5 + 0.5 * Math.min(1, strength);
        const r = Math.min(
          1,
          similarity * (SEVERITY[p.failure_type] ?? 0.7) * recurrence * sameOperation * vigour,
        );
        risk = Math.max(risk, r);
        if (this.escalated(p) && r > blockRisk) {
          blockRisk = r;
          blocker = p;
        }
      }
      if (injection.length > 0) risk = Math.max(risk, 0.6);
      // A pattern with a person's guardrail text adds that text; the others their type's default.
      const types = new Set(matches.filter((m) => !m.p.guardrail).map((m) => m.p.failure_type));
      if (injection.length > 0) types.add('unsafe_output');
      const guardrails = [
        ...GUARDRAILS.filter(([type]) => types.has(type)).map(([, text]) => text),
        ...new Set(matches.flatMap((m) => (m.p.guardrail ? [m.p.guardrail] : []))),
      ];
      const warnings = [
        ...matches.map(
          (m) =>
            `resembles a ${m.p.failure_type} failure of ${m.p.operation}${m.p.origin ? ` in project ${m.p.origin.project}` : ''} seen ${m.p.occurrences}x (similarity ${m.similarity.toFixed(2)})`,
        ),
        ...(injection.length ? ['the prompt contains prompt-injection markers'] : []),
      ];
      const blocked = blockRisk >= this.blockThreshold;
      return {
        risk: Number(risk.toFixed(4)),
        should_proceed: !blocked,
        ...(blocked && blocker
          ? {
              block_reason:
                (blocker.guarded_occurrences ?? 0) >= 1
                  ? `pattern ${blocker.id} (${blocker.failure_type}) failed again although its guardrails were applied`
                  : `pattern ${blocker.id} (${blocker.failure_type}) failed ${blocker.occurrences} times`,
              blocked_by: blocker.id,
            }
          : {}),
        matches: matches.map(({ p, similarity, strength }) => ({
          pattern_id: p.id,
          similarity: Number(similarity.toFixed(4)),
          failure_type: p.failure_type,
          operation: p.operation,
          occurrences: p.occurrences,
          escalated: this.escalated(p),
          strength: Number(strength.toFixed(4)),
          prompt_summary: p.prompt_summary.slice(0, 160),
          ...(p.lesson ? { lesson: p.lesson } : {}),
          ...(p.source ? { source: p.source } : {}),
          ...(p.origin ? { origin: { project: p.origin.project, pattern_id: p.origin.pattern_id } } : {}),
          ...(p.guardrail ? { guardrail: p.guardrail } : {}),
        })),
        warnings,
        guardrails,
        injection_markers: injection,
      };
    });
  }

  /** Records what fixed a pattern's failure (a later attempt that worked); shown with its matches. */
  async recordLesson(id: string, lesson: string): Promise<void> {
    await this.store.transact((state) => {
      if (!state.patterns.has(id)) return { result: undefined };
      return {
        event: { type: 'lesson', id, at: isoTime(this.clock), lesson: lesson.slice(0, 600) },
        result: undefined,
      };
    });
  }

  /** A spawn's pre-check: counts it, and reinforces the patterns it matched (hits). */
  async recordCheck(check: CheckResult): Promise<void> {
    await this.store.transact(() => ({
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
    await this.store.transact((state) => {
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

  /** What a pattern did per day, oldest first: failures, checks it matched, checks it blocked, saves. */
  async timeline(id: string): Promise<Array<PatternDay & { day: string }>> {
    return this.store.read((state) =>
      [...(state.timeline.get(id) ?? new Map<string, PatternDay>())]
        .map(([day, d]) => ({ day, ...d }))
        .sort((a, b) => a.day.localeCompare(b.day)),
    );
  }

  /** The sequence number of the last event seen, caught up with other processes (changes only when the memory does). */
  async version(): Promise<number> {
    return this.store.read((_state, version) => version);
  }

  /** A guarded prompt that matched these patterns then succeeded. */
  async recordSave(patternIds: readonly string[]): Promise<void> {
    if (patternIds.length === 0) return;
    await this.store.transact(() => ({
      event: { type: 'saved', ids: [...patternIds], at: isoTime(this.clock) },
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
    await this.store.transact((state) => {
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

  async get(id: string): Promise<FailurePattern> {
    const p = await this.store.read((state) => state.patterns.get(id));
    if (!p)
      throw new AppError('NOT_FOUND', `No failure pattern "${id}"`, {
        hint: 'immune_failures lists the pattern ids',
      });
    return structuredClone(p);
  }

  /**
   * Marks own patterns shared or not (imported ones are never re-shared).
   * @throws AppError NOT_FOUND naming unknown ids.
   */
  async share(ids: readonly string[], shared: boolean): Promise<{ changed: number }> {
    return this.store.transact((state) => {
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
    return this.store.transact((state) => {
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
    return this.store.transact((state) => {
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
    return this.store.transact((state) => {
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
    return this.store.read((state) => {
      const byType: Record<string, number> = {};
      let occurrences = 0;
      let saves = 0;
      let imported = 0;
      let shared = 0;
      let weak = 0;
      let guardrailsEdited = 0;
      for (const p of state.patterns.values()) {
        if (p.guardrail) guardrailsEdited++;
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
