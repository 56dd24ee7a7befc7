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
import { TfIdfIndex } from './tfidf.js';

type FailurePatternCore = Pick<
  FailurePattern,
  | 'id'
  | 'operation'
  | 'failure_type'
  | 'prompt_summary'
  | 'output_summary'
  | 'grader_scores'
  | 'occurrences'
  | 'saves'
  | 'first_seen'
  | 'last_seen'
>;

export interface FailurePattern {
  id: string;
  operation: string;
  failure_type: string;
  /** provider/model of the failing run, when one answered. */
  model?: string;
  prompt_summary: string;
  output_summary: string;
  grader_scores: Record<string, number>;
  occurrences: number;
  /** Spawns whose prompt matched this pattern. */
  hits: number;
  /** Guarded prompts that matched it and then succeeded. */
  saves: number;
  /** Matches reported as wrong (immune_feedback). */
  false_positives: number;
  /** Failures that happened although the prompt carried this memory's guardrails. */
  guarded_occurrences?: number;
  /** Blocks a caller overrode, with the last reason given. */
  overrides?: number;
  last_override?: { reason: string; by: string; at: string };
  first_seen: string;
  /** Last failure. */
  last_seen: string;
  /** Last failure, hit, save or feedback: staleness is measured from here. */
  last_activity: string;
  /** Strength at `strength_at`; it halves every 72 hours from there (see strengthAt). */
  strength: number;
  strength_at: string;
  /** Published to the federation hub on push. */
  shared: boolean;
  /** Set when imported from another project through the hub: its lineage. */
  origin?: { project: string; pattern_id: string; imported_at: string };
  /** Sequence number of the event that last changed it (incremental sync). */
  updated_seq: number;
  updated_at: string;
}

/** A pattern as it travels between projects (imported with its lineage). */
export interface PortablePattern {
  project: string;
  pattern_id: string;
  operation: string;
  failure_type: string;
  model?: string | undefined;
  prompt_summary: string;
  output_summary: string;
  text: string;
  occurrences: number;
  saves: number;
  strength: number;
  strength_at: string;
  first_seen: string;
  last_seen: string;
  updated_at: string;
}

interface DayStats {
  failures: number;
  new_patterns: number;
  checks: number;
  blocks: number;
  hits: number;
  saves: number;
  guarded_failures: number;
}

type ImmuneEvent =
  | { type: 'pattern_added'; pattern: FailurePattern; text: string; guarded?: boolean }
  | { type: 'occurrence'; id: string; at: string; model?: string; guarded?: boolean }
  | { type: 'checked'; at: string; ids: string[]; blocked: boolean }
  | { type: 'save'; id: string; at: string }
  | { type: 'saved'; ids: string[]; at: string }
  | { type: 'feedback'; id: string; at: string; verdict: 'false_positive' | 'confirmed' }
  | { type: 'overridden'; ids: string[]; at: string; reason: string; by: string }
  | { type: 'pruned'; ids: string[]; at: string; reason: string }
  | { type: 'shared'; ids: string[]; shared: boolean; at: string }
  | { type: 'imported'; patterns: PortablePattern[]; at: string };

interface ImmuneState {
  patterns: Map<string, FailurePattern>;
  order: string[];
  index: TfIdfIndex;
  /** `project/pattern_id` of imported patterns -> local id */
  byOrigin: Map<string, string>;
  /** Indexed text per pattern (exported on push). */
  texts: Map<string, string>;
  /** Removed patterns -> the sequence number that removed them (withdrawn from the hub on push). */
  removed: Map<string, number>;
  days: Map<string, DayStats>;
  seq: number;
}

const HOUR = 3_600_000;
/** Strength halves every 72 hours without reinforcement. */
export const HALF_LIFE_MS = 72 * HOUR;
/** Patterns with no activity for 14 days whose strength fell below PRUNE_STRENGTH are pruned. */
export const STALE_MS = 14 * 24 * HOUR;
export const PRUNE_STRENGTH = 0.1;
const MAX_STRENGTH = 5;
/** How much each kind of evidence adds to a pattern's strength (a false positive halves it). */
const REINFORCE = { occurrence: 1, hit: 0.25, save: 0.5, confirmed: 0.5 } as const;

/** A pattern's strength at `nowMs`, decayed from its last reinforcement. */
export function strengthAt(p: Pick<FailurePattern, 'strength' | 'strength_at'>, nowMs: number): number {
  const elapsed = Math.max(0, nowMs - Date.parse(p.strength_at));
  return p.strength * 0.5 ** (elapsed / HALF_LIFE_MS);
}

function reinforce(p: FailurePattern, at: string, delta: number): void {
  const now = Date.parse(at);
  const current = strengthAt(p, now);
  p.strength = Math.max(0, Math.min(MAX_STRENGTH, delta >= 0 ? current + delta : current * 0.5));
  p.strength_at = at;
  if (at > p.last_activity) p.last_activity = at;
}

function emptyDay(): DayStats {
  return { failures: 0, new_patterns: 0, checks: 0, blocks: 0, hits: 0, saves: 0, guarded_failures: 0 };
}

function day(state: ImmuneState, at: string): DayStats {
  const key = at.slice(0, 10);
  let d = state.days.get(key);
  if (!d) {
    d = emptyDay();
    state.days.set(key, d);
  }
  return d;
}

function touch(state: ImmuneState, p: FailurePattern, at: string): void {
  p.updated_seq = state.seq;
  p.updated_at = at;
}

/** Guardrails per failure type, in the fixed order they are added. */
export const GUARDRAILS: ReadonlyArray<[string, string]> = [
  [
    'unsafe_output',
    'Refuse harmful or destructive actions; never output credentials, secrets or dangerous commands.',
  ],
  ['empty_response', 'Answer with substantive content; never reply with an empty message.'],
  ['json_invalid', 'Reply with valid JSON only: no prose before or after it.'],
  [
    'schema_violation',
    'Reply with JSON only, matching the required schema exactly: every required field, the right types, no extra fields.',
  ],
  ['length_violation', 'Respect the length limits stated in the request.'],
  ['pattern_mismatch', 'Follow the required format and include every required element.'],
  [
    'hallucination',
    'Use only facts from the request or that you are certain of; say when you do not know; never invent APIs, numbers or sources.',
  ],
  [
    'refusal',
    'A similar request was declined before: if part of it truly cannot be done, say exactly which part and why, and do the rest.',
  ],
  ['low_quality', 'Address every part of the request completely and precisely.'],
  ['provider_error', 'Keep the request concise; a similar request failed at the provider before.'],
];

/** How bad a failure type is when it recurs (scales the risk of a match). */
const SEVERITY: Record<string, number> = {
  unsafe_output: 1,
  hallucination: 0.95,
  schema_violation: 0.9,
  json_invalid: 0.9,
  empty_response: 0.85,
  pattern_mismatch: 0.8,
  length_violation: 0.7,
  low_quality: 0.7,
  refusal: 0.7,
  provider_error: 0.6,
};

const INJECTION = [
  /ignore (all |any )?(previous|prior|above) (instructions|prompts?)/i,
  /disregard (the |all |your )?(previous |prior )?(instructions|rules|system prompt)/i,
  /you are now (in )?(developer|dan|jailbreak)/i,
  /reveal (your |the )?(system prompt|hidden instructions)/i,
  /\bDAN mode\b/i,
  /pretend (that )?you have no (rules|restrictions)/i,
];

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
    /** Lineage of a pattern imported from another project. */
    origin?: { project: string; pattern_id: string };
  }>;
  warnings: string[];
  guardrails: string[];
  injection_markers: string[];
  /** Why it is blocked (which pattern, with what evidence). */
  block_reason?: string;
}

function removePattern(state: ImmuneState, id: string): void {
  const p = state.patterns.get(id);
  if (!p) return;
  state.patterns.delete(id);
  state.texts.delete(id);
  state.index.remove(id);
  if (p.origin) state.byOrigin.delete(`${p.origin.project}/${p.origin.pattern_id}`);
  state.removed.set(id, state.seq);
}

function importOne(state: ImmuneState, q: PortablePattern, at: string): void {
  const key = `${q.project}/${q.pattern_id}`;
  const localId = state.byOrigin.get(key);
  const existing = localId ? state.patterns.get(localId) : undefined;
  if (existing) {
    // The source's fields win; this project's own evidence (hits, saves, feedback) is kept and
    // the stronger of the two strengths, both decayed to now, is the new strength.
    const now = Date.parse(at);
    existing.operation = q.operation;
    existing.failure_type = q.failure_type;
    existing.prompt_summary = q.prompt_summary;
    existing.output_summary = q.output_summary;
    existing.occurrences = q.occurrences;
    existing.last_seen = q.last_seen;
    if (q.model) existing.model = q.model;
    const s = Math.max(strengthAt(existing, now), strengthAt(q, now));
    existing.strength = s;
    existing.strength_at = at;
    if (q.last_seen > existing.last_activity) existing.last_activity = q.last_seen;
    if (state.texts.get(existing.id) !== q.text) {
      state.texts.set(existing.id, q.text);
      state.index.add(existing.id, q.text);
    }
    touch(state, existing, at);
    return;
  }
  const id = `imp-${q.project}-${q.pattern_id}`.slice(0, 120);
  const pattern: FailurePattern = {
    id,
    operation: q.operation,
    failure_type: q.failure_type,
    ...(q.model ? { model: q.model } : {}),
    prompt_summary: q.prompt_summary,
    output_summary: q.output_summary,
    grader_scores: {},
    occurrences: q.occurrences,
    hits: 0,
    saves: 0,
    false_positives: 0,
    first_seen: q.first_seen,
    last_seen: q.last_seen,
    last_activity: at,
    strength: strengthAt(q, Date.parse(at)),
    strength_at: at,
    shared: false,
    origin: { project: q.project, pattern_id: q.pattern_id, imported_at: at },
    updated_seq: state.seq,
    updated_at: at,
  };
  state.patterns.set(id, pattern);
  state.order.push(id);
  state.texts.set(id, q.text);
  state.index.add(id, q.text);
  state.byOrigin.set(key, id);
  state.removed.delete(id);
}

function apply(state: ImmuneState, event: ImmuneEvent, seq: number): void {
  state.seq = seq;
  switch (event.type) {
    case 'pattern_added': {
      // Patterns stored before strength and sharing existed get their defaults.
      const stored = structuredClone(event.pattern) as Partial<FailurePattern> & FailurePatternCore;
      const p: FailurePattern = {
        hits: 0,
        false_positives: 0,
        last_activity: stored.first_seen,
        strength: 1,
        strength_at: stored.first_seen,
        shared: true,
        updated_at: stored.first_seen,
        ...stored,
        updated_seq: seq,
      };
      state.patterns.set(p.id, p);
      state.order.push(p.id);
      state.texts.set(p.id, event.text);
      state.index.add(p.id, event.text);
      const d = day(state, p.first_seen);
      d.failures++;
      d.new_patterns++;
      if (event.guarded) d.guarded_failures++;
      return;
    }
    case 'occurrence': {
      const p = state.patterns.get(event.id);
      const d = day(state, event.at);
      d.failures++;
      if (event.guarded) d.guarded_failures++;
      if (p) {
        p.occurrences++;
        if (event.guarded) p.guarded_occurrences = (p.guarded_occurrences ?? 0) + 1;
        p.last_seen = event.at;
        if (event.model) p.model = event.model;
        reinforce(p, event.at, REINFORCE.occurrence);
        touch(state, p, event.at);
      }
      return;
    }
    case 'checked': {
      const d = day(state, event.at);
      d.checks++;
      if (event.blocked) d.blocks++;
      for (const id of event.ids) {
        const p = state.patterns.get(id);
        if (!p) continue;
        d.hits++;
        p.hits++;
        reinforce(p, event.at, REINFORCE.hit);
        touch(state, p, event.at);
      }
      return;
    }
    case 'save':
    case 'saved': {
      const ids = event.type === 'save' ? [event.id] : event.ids;
      // One guarded run that succeeded: one save for the day, one for each pattern it matched.
      day(state, event.at).saves++;
      for (const id of ids) {
        const p = state.patterns.get(id);
        if (!p) continue;
        p.saves++;
        reinforce(p, event.at, REINFORCE.save);
        touch(state, p, event.at);
      }
      return;
    }
    case 'overridden':
      for (const id of event.ids) {
        const p = state.patterns.get(id);
        if (!p) continue;
        p.overrides = (p.overrides ?? 0) + 1;
        p.last_override = { reason: event.reason, by: event.by, at: event.at };
        touch(state, p, event.at);
      }
      return;
    case 'feedback': {
      const p = state.patterns.get(event.id);
      if (!p) return;
      if (event.verdict === 'false_positive') {
        p.false_positives++;
        reinforce(p, event.at, -1);
      } else reinforce(p, event.at, REINFORCE.confirmed);
      touch(state, p, event.at);
      return;
    }
    case 'pruned':
      for (const id of event.ids) removePattern(state, id);
      // One pass over the order, however many were pruned.
      state.order = state.order.filter((id) => state.patterns.has(id));
      return;
    case 'shared':
      for (const id of event.ids) {
        const p = state.patterns.get(id);
        if (p && !p.origin) {
          p.shared = event.shared;
          touch(state, p, event.at);
        }
      }
      return;
    case 'imported':
      for (const q of event.patterns) importOne(state, q, event.at);
      return;
  }
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
      initial: () => ({
        patterns: new Map(),
        order: [],
        index: new TfIdfIndex(),
        byOrigin: new Map(),
        texts: new Map(),
        removed: new Map(),
        days: new Map(),
        seq: 0,
      }),
      apply,
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
    model?: string | undefined;
    /** The prompt carried guardrails and still failed (a guardrail miss, for the dashboard). */
    guarded?: boolean | undefined;
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
        failure_type: f.failure_type,
        ...(f.model ? { model: f.model } : {}),
        prompt_summary: f.prompt.slice(0, 300),
        output_summary: f.output.slice(0, 200),
        grader_scores: f.grader_scores,
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
      const types = new Set(matches.map((m) => m.p.failure_type));
      if (injection.length > 0) types.add('unsafe_output');
      const guardrails = GUARDRAILS.filter(([type]) => types.has(type)).map(([, text]) => text);
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
          ...(p.origin ? { origin: { project: p.origin.project, pattern_id: p.origin.pattern_id } } : {}),
        })),
        warnings,
        guardrails,
        injection_markers: injection,
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
      },
      result: undefined,
    }));
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
      for (const p of state.patterns.values()) {
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
        by_failure_type: byType,
        block_threshold: this.blockThreshold,
      };
    });
  }

  /** Everything the dashboard shows, over the last `days` days. */
  async dashboard(days: number): Promise<DashboardData> {
    const nowMs = this.clock.now();
    return this.store.read((state) => {
      const trend: DashboardData['trend'] = [];
      const totals = emptyDay();
      for (let i = days - 1; i >= 0; i--) {
        const date = new Date(nowMs - i * 24 * HOUR).toISOString().slice(0, 10);
        const d = state.days.get(date);
        const row = {
          date,
          ...(d ?? emptyDay()),
        };
        trend.push(row);
        for (const k of Object.keys(totals) as Array<keyof typeof totals>) totals[k] += row[k];
      }
      const byType: Record<string, number> = {};
      const byOperation: Record<string, number> = {};
      const byModel: Record<string, number> = {};
      let strengthSum = 0;
      let weak = 0;
      let imported = 0;
      const all = [...state.patterns.values()];
      for (const p of all) {
        byType[p.failure_type] = (byType[p.failure_type] ?? 0) + p.occurrences;
        byOperation[p.operation] = (byOperation[p.operation] ?? 0) + p.occurrences;
        const model = p.model ?? 'unknown';
        byModel[model] = (byModel[model] ?? 0) + p.occurrences;
        const s = strengthAt(p, nowMs);
        strengthSum += s;
        if (s < PRUNE_STRENGTH) weak++;
        if (p.origin) imported++;
      }
      const top = all
        .sort((a, b) => b.occurrences - a.occurrences || b.last_seen.localeCompare(a.last_seen))
        .slice(0, 10)
        .map((p) => ({
          id: p.id,
          failure_type: p.failure_type,
          operation: p.operation,
          occurrences: p.occurrences,
          hits: p.hits,
          saves: p.saves,
          strength: Number(strengthAt(p, nowMs).toFixed(3)),
          last_seen: p.last_seen,
          prompt_summary: p.prompt_summary.slice(0, 120),
          ...(p.origin ? { source_project: p.origin.project } : {}),
        }));
      const guardedOutcomes = totals.saves + totals.guarded_failures;
      const avgStrength = all.length ? strengthSum / all.length : 0;
      // Health: 100 with no failures in the window, lower as failures outpace saves and checks get blocked.
      const pressure = totals.failures / Math.max(1, totals.failures + totals.saves + totals.checks);
      const health = Math.round(100 * (1 - pressure));
      return {
        generated_at: new Date(nowMs).toISOString(),
        days,
        health: {
          score: health,
          status: health >= 80 ? 'healthy' : health >= 50 ? 'degraded' : 'unhealthy',
          patterns: all.length,
          imported,
          weak,
          average_strength: Number(avgStrength.toFixed(3)),
        },
        totals,
        guardrail_success_rate: guardedOutcomes ? Number((totals.saves / guardedOutcomes).toFixed(4)) : null,
        trend,
        by_failure_type: byType,
        by_operation: byOperation,
        by_model: byModel,
        top_patterns: top,
      };
    });
  }

  async list(page: PageRequest & { failure_type?: string | undefined }): Promise<Page<FailurePattern>> {
    return this.store.read((state) => {
      const all = [...state.order]
        .reverse()
        .map((id) => state.patterns.get(id)!)
        .filter((p) => !page.failure_type || p.failure_type === page.failure_type);
      return paginate(all, page);
    });
  }
}

export interface DashboardData {
  generated_at: string;
  days: number;
  health: {
    score: number;
    status: 'healthy' | 'degraded' | 'unhealthy';
    patterns: number;
    imported: number;
    weak: number;
    average_strength: number;
  };
  totals: DayStats;
  /** saves / (saves + failures of guarded prompts); null when no guarded prompt ran. */
  guardrail_success_rate: number | null;
  trend: Array<{ date: string } & DayStats>;
  by_failure_type: Record<string, number>;
  by_operation: Record<string, number>;
  by_model: Record<string, number>;
  top_patterns: Array<{
    id: string;
    failure_type: string;
    operation: string;
    occurrences: number;
    hits: number;
    saves: number;
    strength: number;
    last_seen: string;
    prompt_summary: string;
    source_project?: string;
  }>;
}
