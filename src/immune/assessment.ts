/**
 * How a prompt's closest remembered failures become the memory's answer: risk, whether to block,
 * the guardrails and evidence to add, and the matches as reported. One function for every way the
 * matches were found (the live memory, immuneSystem.ts, or the match index a hook reads without
 * a server, matchIndex.ts), so both answer alike.
 */
import { guardrailOf, INJECTION } from './guardrails.js';
import type { Evidence } from './guardrails.js';
import { strengthAt } from './patterns.js';
import type { FailurePattern, MatchStage } from './patterns.js';

/** Which stages matched a prompt, and why the semantic one did not when it is configured. */
export interface MatchReport {
  /** The stage that decided: `semantic` when embeddings were compared, else `tfidf`. */
  stage: 'tfidf' | 'semantic';
  /** The embedding model, when one is configured. */
  embedding_model?: string;
  /** Why matching fell back to TF-IDF (embeddings unavailable). */
  fallback_reason?: string;
  /** The prompt's embedding came from the cache (no call). */
  cached?: boolean;
  /** Grey-zone matches the judge decided. */
  judged?: number;
}

export interface CheckMatch {
  pattern_id: string;
  similarity: number;
  /** The stage that measured it (`judge`: the judge said it is the same task). */
  stage: MatchStage;
  /** TF-IDF cosine of the closest wording, and the rescaled embedding similarity when measured. */
  tfidf: number;
  semantic?: number;
  /** Close enough to be the problem this pattern remembers (it would join it, and may block). */
  same_problem: boolean;
  failure_type: string;
  operation: string;
  occurrences: number;
  /** Wordings the pattern holds (its own and the variants that joined it). */
  wordings: number;
  /** Failed despite its guardrail, or repeated, since it was last relaxed: it may block. */
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
  /** A person's guardrail text for this pattern (in place of the generated one). */
  guardrail?: string;
}

export interface CheckResult {
  risk: number;
  should_proceed: boolean;
  matches: CheckMatch[];
  warnings: string[];
  /** Instructions added to the prompt: a person's text, a specific one, or a type's default. */
  guardrails: string[];
  /** What went wrong before, per matched pattern: stored text, quoted wherever it is shown. */
  evidence: Evidence[];
  injection_markers: string[];
  match: MatchReport;
  /** Why it is blocked (which pattern, with what evidence). */
  block_reason?: string;
  /** The pattern that blocked it. */
  blocked_by?: string;
}

export interface Ranked {
  p: FailurePattern;
  doc: string;
  similarity: number;
  tfidf: number;
  semantic?: number;
  stage: MatchStage;
}

export interface MatchOptions {
  /**
   * The text must not leave the machine (Claude Code's own prompts and answers, unless the user
   * allowed judges on them): no embedding call and no judge; TF-IDF alone, and the report says so.
   */
  offline?: boolean;
}

/** The memory's thresholds unless configured (ImmuneOptions says what each means). */
export const IMMUNE_DEFAULTS = {
  matchThreshold: 0.35,
  blockThreshold: 0.9,
  mergeThreshold: 0.6,
  blockAfter: 3,
} as const;

/** What decides beyond the matches: thresholds, escalation, which patterns stay on the machine. */
export interface AssessParams {
  blockThreshold: number;
  mergeThreshold: number;
  blockAfter: number;
  keepLocal: (p: FailurePattern) => boolean;
}

/** Whether a pattern may block: since it was last relaxed it failed despite its guardrail, or often. */
export function escalated(blockAfter: number, p: FailurePattern): boolean {
  const s = p.streak ?? { failures: p.occurrences, guarded: p.guarded_occurrences ?? 0 };
  return s.guarded >= 1 || s.failures >= blockAfter;
}

/** The closest wording of each pattern among `candidates`, at or above `floor`, the `k` best first. */
export function topPatterns(candidates: Iterable<Ranked>, floor: number, k: number): Ranked[] {
  const best = new Map<string, Ranked>();
  for (const r of candidates) {
    const prev = best.get(r.p.id);
    if (!prev || r.similarity > prev.similarity) best.set(r.p.id, r);
  }
  return [...best.values()]
    .filter((r) => r.similarity >= floor)
    .sort((a, b) => b.similarity - a.similarity)
    .slice(0, k);
}

/** Risk of a prompt from the failures it resembles (`ranked`, best first); guardrails; whether to proceed. */
export function assess(
  ranked: readonly Ranked[],
  prompt: string,
  operation: string | undefined,
  options: MatchOptions,
  params: AssessParams,
  report: MatchReport,
  now: number,
): CheckResult {
  const injection = INJECTION.filter((re) => re.test(prompt)).map((re) => re.source);
  const matches = ranked.map((r) => ({ ...r, strength: strengthAt(r.p, now) }));
  let risk = 0;
  // Only escalated patterns may block; the others guard.
  let blockRisk = 0;
  let blocker: (typeof matches)[number] | undefined;
  for (const m of matches) {
    // Similarity decides; a fading pattern counts less (an escalated one failed at least twice,
    // so it keeps strength >= 1 for 72 h after its last failure); a pattern that only guards stays
    // under the block threshold; another operation counts a little less.
    const vigour = 0.5 + 0.5 * Math.min(1, m.strength);
    const evidence = escalated(params.blockAfter, m.p) ? 1 : 0.85;
    const sameOperation = !operation || m.p.operation === operation ? 1 : 0.95;
    const r = Math.min(1, m.similarity * vigour * evidence * sameOperation);
    risk = Math.max(risk, r);
    if (escalated(params.blockAfter, m.p) && r > blockRisk) {
      blockRisk = r;
      blocker = m;
    }
  }
  if (injection.length > 0) risk = Math.max(risk, 0.6);
  // A pattern whose text stays on the machine lends a prompt bound elsewhere only its type's text.
  const rails = matches.map((m) =>
    !options.offline && params.keepLocal(m.p)
      ? guardrailOf({
          failure_type: m.p.failure_type,
          ...(m.p.guardrail ? { guardrail: m.p.guardrail } : {}),
        })
      : guardrailOf(m.p),
  );
  const defaults = new Set(rails.flatMap((g) => (g.kind === 'default' ? [g.text] : [])));
  if (injection.length > 0) defaults.add(guardrailOf({ failure_type: 'unsafe_output' }).text);
  const guardrails = [
    ...new Set([...rails.flatMap((g) => (g.kind !== 'default' ? [g.text] : [])), ...defaults]),
  ];
  const evidence = rails.flatMap((g) => (g.evidence ? [g.evidence] : []));
  const warnings = [
    ...matches.map(
      (m) =>
        `resembles a ${m.p.failure_type} failure of ${m.p.operation}${m.p.origin ? ` in project ${m.p.origin.project}` : ''} seen ${m.p.occurrences}x (similarity ${m.similarity.toFixed(2)}, ${m.stage})`,
    ),
    ...(injection.length ? ['the prompt contains prompt-injection markers'] : []),
  ];
  const blocked = blocker !== undefined && blockRisk >= params.blockThreshold;
  return {
    risk: Number(risk.toFixed(4)),
    should_proceed: !blocked,
    ...(blocked && blocker
      ? {
          block_reason:
            (blocker.p.streak?.guarded ?? blocker.p.guarded_occurrences ?? 0) >= 1
              ? `pattern ${blocker.p.id} (${blocker.p.failure_type}) failed again although its guardrails were applied`
              : `pattern ${blocker.p.id} (${blocker.p.failure_type}) failed ${blocker.p.streak?.failures ?? blocker.p.occurrences} times`,
          blocked_by: blocker.p.id,
        }
      : {}),
    matches: matches.map((m) => ({
      pattern_id: m.p.id,
      similarity: Number(m.similarity.toFixed(4)),
      stage: m.stage,
      tfidf: Number(m.tfidf.toFixed(4)),
      ...(m.semantic !== undefined ? { semantic: Number(m.semantic.toFixed(4)) } : {}),
      same_problem: m.similarity >= params.mergeThreshold,
      failure_type: m.p.failure_type,
      operation: m.p.operation,
      occurrences: m.p.occurrences,
      wordings: 1 + (m.p.variants?.length ?? 0),
      escalated: escalated(params.blockAfter, m.p),
      strength: Number(m.strength.toFixed(4)),
      prompt_summary: m.p.prompt_summary.slice(0, 160),
      ...(m.p.lesson ? { lesson: m.p.lesson } : {}),
      ...(m.p.source ? { source: m.p.source } : {}),
      ...(m.p.origin ? { origin: { project: m.p.origin.project, pattern_id: m.p.origin.pattern_id } } : {}),
      ...(m.p.guardrail ? { guardrail: m.p.guardrail } : {}),
    })),
    warnings,
    guardrails,
    evidence,
    injection_markers: injection,
    match: report,
  };
}
