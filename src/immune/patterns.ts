/**
 * The failure memory's data: patterns (what failed, how often, how strong now, in which wordings),
 * the events that change them and the reducer every process replays them with; decay by half-life.
 * One pattern is one problem: rewordings that failed the same way are its variants, each indexed
 * as a document of its own that leads back to it.
 */
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
  /** Whose work failed: `claude_code` (its hooks), `spawn_agent`, ... (from the operation when absent). */
  source?: string;
  /** What fixed it last time, when known (a later attempt of the same kind that worked). */
  lesson?: string;
  failure_type: string;
  /** provider/model of the failing run, when one answered. */
  model?: string;
  prompt_summary: string;
  output_summary: string;
  grader_scores: Record<string, number>;
  /** Why the failing graders failed it (first occurrence), each cut to 300 characters. */
  grader_reasons?: Record<string, string>;
  occurrences: number;
  /** Spawns whose prompt matched this pattern. */
  hits: number;
  /** Guarded prompts that matched it and then succeeded. */
  saves: number;
  /** Matches reported as wrong (immune_feedback). */
  false_positives: number;
  /** Times a person (or a caller) confirmed it is a real failure (immune_feedback, the desk). */
  confirmations?: number;
  /** Failures that happened although the prompt carried this pattern's guardrails. */
  guarded_occurrences?: number;
  /**
   * Escalation since the pattern was last relaxed (a passing guarded attempt, an override): its
   * failures, and those that happened although its guardrails were applied.
   */
  streak?: { failures: number; guarded: number; since: string };
  /** The latest failure's evidence: why the graders failed it and how the failing answer began. */
  evidence?: { reasons: Record<string, string>; output: string; at: string };
  /** Other wordings that failed the same way and joined this pattern (the merges), oldest first. */
  variants?: PatternVariant[];
  /** Set on a pattern a person split off another (the desk): where it came from. */
  split_from?: { id: string; by: string; at: string };
  /** Guardrail text a person wrote for this pattern (review desk); replaces its type's default. */
  guardrail?: string;
  guardrail_edit?: { by: string; at: string };
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

/** A wording that joined a pattern: the merge, recorded with how close it was and who decided. */
export interface PatternVariant {
  /** Its document id in the indexes (`<pattern id>#<n>`). */
  doc: string;
  text: string;
  at: string;
  /** Failures of this wording. */
  count: number;
  /** Its similarity to the pattern when it joined, and the stage that measured it. */
  similarity: number;
  stage: MatchStage;
}

/** Which stage measured a similarity: TF-IDF alone, TF-IDF with embeddings, or the judge's verdict. */
export type MatchStage = 'tfidf' | 'semantic' | 'judge';

/** Variants kept per pattern; further wordings count on the closest one. */
export const MAX_VARIANTS = 12;
/** A wording at least this close to one already indexed is that wording again, not a new variant. */
export const SAME_WORDING = 0.95;

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

export interface DayStats {
  failures: number;
  new_patterns: number;
  checks: number;
  blocks: number;
  hits: number;
  saves: number;
  guarded_failures: number;
}

/** One pattern's day: its failures, the checks it matched, the checks it blocked, the saves. */
export interface PatternDay {
  occurrences: number;
  hits: number;
  blocks: number;
  saves: number;
}

export type ImmuneEvent =
  | { type: 'pattern_added'; pattern: FailurePattern; text: string; guarded?: boolean }
  | {
      type: 'occurrence';
      id: string;
      at: string;
      model?: string;
      /** The prompt carried some guardrails (the dashboard's guarded failures). */
      guarded?: boolean;
      /** It carried this pattern's guardrails: a failure despite them (escalates). Absent in old logs: `guarded`. */
      guarded_here?: boolean;
      /** A new wording joins as a variant; a known one (`doc`) counts once more. */
      variant?: { doc: string; text: string; similarity: number; stage: MatchStage } | { doc: string };
      evidence?: { reasons: Record<string, string>; output: string };
    }
  | { type: 'checked'; at: string; ids: string[]; blocked: boolean; blocked_by?: string }
  | { type: 'save'; id: string; at: string }
  /** A guarded prompt passed; `relaxed` are the patterns it was the same problem as (their streak ends). */
  | { type: 'saved'; ids: string[]; at: string; relaxed?: string[] }
  /** A person split a variant off a pattern: it becomes a pattern of its own. */
  | { type: 'split'; id: string; doc: string; new_id: string; at: string; by: string }
  | { type: 'feedback'; id: string; at: string; verdict: 'false_positive' | 'confirmed' }
  | { type: 'lesson'; id: string; at: string; lesson: string }
  /** A person's guardrail text for one pattern; empty restores its failure type's default. */
  | { type: 'guardrail'; id: string; at: string; text: string; by: string }
  | { type: 'overridden'; ids: string[]; at: string; reason: string; by: string }
  | { type: 'pruned'; ids: string[]; at: string; reason: string }
  | { type: 'shared'; ids: string[]; shared: boolean; at: string }
  | { type: 'imported'; patterns: PortablePattern[]; at: string };

export interface ImmuneState {
  patterns: Map<string, FailurePattern>;
  order: string[];
  index: TfIdfIndex;
  /** `project/pattern_id` of imported patterns -> local id */
  byOrigin: Map<string, string>;
  /** Indexed text per pattern (exported on push). */
  texts: Map<string, string>;
  /** Every indexed document (a pattern's text or one of its variants) -> its pattern and text. */
  docs: Map<string, { pattern: string; text: string }>;
  /** Document ids in the order they were (re)indexed: later stages index incrementally from here. */
  docOrder: string[];
  /** Removed patterns -> the sequence number that removed them (withdrawn from the hub on push). */
  removed: Map<string, number>;
  days: Map<string, DayStats>;
  /** Per pattern, per day (YYYY-MM-DD): what it did (the review desk's history of a pattern). */
  timeline: Map<string, Map<string, PatternDay>>;
  seq: number;
}

export const HOUR = 3_600_000;
/** Strength halves every 72 hours without reinforcement. */
export const HALF_LIFE_MS = 72 * HOUR;
/** Patterns with no activity for 14 days whose strength fell below PRUNE_STRENGTH are pruned. */
export const STALE_MS = 14 * 24 * HOUR;
export const PRUNE_STRENGTH = 0.1;
const MAX_STRENGTH = 5;
/** How much each kind of evidence adds to a pattern's strength (a false positive halves it). */
export const REINFORCE = { occurrence: 1, hit: 0.25, save: 0.5, confirmed: 0.5 } as const;

/** A pattern's strength at `nowMs`, decayed from its last reinforcement. */
export function strengthAt(p: Pick<FailurePattern, 'strength' | 'strength_at'>, nowMs: number): number {
  const elapsed = Math.max(0, nowMs - Date.parse(p.strength_at));
  return p.strength * 0.5 ** (elapsed / HALF_LIFE_MS);
}

export function reinforce(p: FailurePattern, at: string, delta: number): void {
  const now = Date.parse(at);
  const current = strengthAt(p, now);
  p.strength = Math.max(0, Math.min(MAX_STRENGTH, delta >= 0 ? current + delta : current * 0.5));
  p.strength_at = at;
  if (at > p.last_activity) p.last_activity = at;
}

export function emptyDay(): DayStats {
  return { failures: 0, new_patterns: 0, checks: 0, blocks: 0, hits: 0, saves: 0, guarded_failures: 0 };
}

export function day(state: ImmuneState, at: string): DayStats {
  const key = at.slice(0, 10);
  let d = state.days.get(key);
  if (!d) {
    d = emptyDay();
    state.days.set(key, d);
  }
  return d;
}

function patternDay(state: ImmuneState, id: string, at: string): PatternDay {
  let days = state.timeline.get(id);
  if (!days) {
    days = new Map();
    state.timeline.set(id, days);
  }
  const key = at.slice(0, 10);
  let d = days.get(key);
  if (!d) {
    d = { occurrences: 0, hits: 0, blocks: 0, saves: 0 };
    days.set(key, d);
  }
  return d;
}

export function touch(state: ImmuneState, p: FailurePattern, at: string): void {
  p.updated_seq = state.seq;
  p.updated_at = at;
}

function indexDoc(state: ImmuneState, doc: string, pattern: string, text: string): void {
  state.docs.set(doc, { pattern, text });
  state.docOrder.push(doc);
  state.index.add(doc, text, pattern);
}

function unindexDoc(state: ImmuneState, doc: string): void {
  state.docs.delete(doc);
  state.index.remove(doc);
}

function removePattern(state: ImmuneState, id: string): void {
  const p = state.patterns.get(id);
  if (!p) return;
  state.patterns.delete(id);
  state.texts.delete(id);
  unindexDoc(state, id);
  for (const v of p.variants ?? []) unindexDoc(state, v.doc);
  state.timeline.delete(id);
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
      indexDoc(state, existing.id, existing.id, q.text);
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
  indexDoc(state, id, id, q.text);
  state.byOrigin.set(key, id);
  state.removed.delete(id);
}

/** The reducer of the immune event log: every process replays the same events into the same state. */
export function applyImmuneEvent(state: ImmuneState, event: ImmuneEvent, seq: number): void {
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
      p.streak ??= { failures: 1, guarded: 0, since: p.first_seen };
      state.patterns.set(p.id, p);
      state.order.push(p.id);
      state.texts.set(p.id, event.text);
      indexDoc(state, p.id, p.id, event.text);
      patternDay(state, p.id, p.first_seen).occurrences++;
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
        patternDay(state, p.id, event.at).occurrences++;
        p.occurrences++;
        const here = event.guarded_here ?? event.guarded ?? false;
        if (here) p.guarded_occurrences = (p.guarded_occurrences ?? 0) + 1;
        const streak = (p.streak ??= { failures: 0, guarded: 0, since: event.at });
        streak.failures++;
        if (here) streak.guarded++;
        const v = event.variant;
        if (v && 'text' in v) {
          if ((p.variants?.length ?? 0) < MAX_VARIANTS && !state.docs.has(v.doc)) {
            (p.variants ??= []).push({
              doc: v.doc,
              text: v.text,
              at: event.at,
              count: 1,
              similarity: v.similarity,
              stage: v.stage,
            });
            indexDoc(state, v.doc, p.id, v.text);
          }
        } else if (v) {
          const known = p.variants?.find((x) => x.doc === v.doc);
          if (known) known.count++;
        }
        if (event.evidence) p.evidence = { ...event.evidence, at: event.at };
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
        const pd = patternDay(state, id, event.at);
        pd.hits++;
        if (event.blocked_by === id) pd.blocks++;
        p.hits++;
        reinforce(p, event.at, REINFORCE.hit);
        touch(state, p, event.at);
      }
      return;
    }
    case 'save':
    case 'saved': {
      const ids = event.type === 'save' ? [event.id] : event.ids;
      const relaxed = new Set(event.type === 'saved' ? (event.relaxed ?? []) : []);
      // One guarded run that succeeded: one save for the day, one for each pattern it matched.
      day(state, event.at).saves++;
      for (const id of ids) {
        const p = state.patterns.get(id);
        if (!p) continue;
        patternDay(state, id, event.at).saves++;
        p.saves++;
        if (relaxed.has(id)) p.streak = { failures: 0, guarded: 0, since: event.at };
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
        // A caller's decision relaxes it: the next failure guards again before it blocks.
        p.streak = { failures: 0, guarded: 0, since: event.at };
        touch(state, p, event.at);
      }
      return;
    case 'split': {
      const p = state.patterns.get(event.id);
      const v = p?.variants?.find((x) => x.doc === event.doc);
      if (!p || !v || state.patterns.has(event.new_id)) return;
      p.variants = p.variants!.filter((x) => x !== v);
      p.occurrences = Math.max(1, p.occurrences - v.count);
      unindexDoc(state, v.doc);
      touch(state, p, event.at);
      const q: FailurePattern = {
        id: event.new_id,
        operation: p.operation,
        ...(p.source ? { source: p.source } : {}),
        failure_type: p.failure_type,
        ...(p.model ? { model: p.model } : {}),
        prompt_summary: v.text.slice(0, 300),
        output_summary: '',
        grader_scores: {},
        occurrences: v.count,
        hits: 0,
        saves: 0,
        false_positives: 0,
        streak: { failures: v.count, guarded: 0, since: event.at },
        first_seen: v.at,
        last_seen: v.at,
        last_activity: event.at,
        strength: REINFORCE.occurrence,
        strength_at: event.at,
        shared: p.shared,
        split_from: { id: p.id, by: event.by, at: event.at },
        updated_seq: state.seq,
        updated_at: event.at,
      };
      state.patterns.set(q.id, q);
      state.order.push(q.id);
      state.texts.set(q.id, v.text);
      indexDoc(state, q.id, q.id, v.text);
      return;
    }
    case 'lesson': {
      const p = state.patterns.get(event.id);
      if (!p) return;
      p.lesson = event.lesson;
      touch(state, p, event.at);
      return;
    }
    case 'guardrail': {
      const p = state.patterns.get(event.id);
      if (!p) return;
      if (event.text) p.guardrail = event.text;
      else delete p.guardrail;
      p.guardrail_edit = { by: event.by, at: event.at };
      touch(state, p, event.at);
      return;
    }
    case 'feedback': {
      const p = state.patterns.get(event.id);
      if (!p) return;
      if (event.verdict === 'false_positive') {
        p.false_positives++;
        reinforce(p, event.at, -1);
      } else {
        p.confirmations = (p.confirmations ?? 0) + 1;
        reinforce(p, event.at, REINFORCE.confirmed);
      }
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

/** An empty memory. */
export function emptyImmuneState(): ImmuneState {
  return {
    patterns: new Map(),
    order: [],
    index: new TfIdfIndex(),
    byOrigin: new Map(),
    texts: new Map(),
    docs: new Map(),
    docOrder: [],
    removed: new Map(),
    days: new Map(),
    timeline: new Map(),
    seq: 0,
  };
}
