/**
 * The immune system: remembers failures as patterns and guards the next prompt. Every failing
 * trial becomes a pattern (near-identical failures of one operation and type merge into it);
 * a new prompt is matched against them by TF-IDF similarity; matches raise its risk and add
 * guardrails specific to the failure types, and a very risky prompt is blocked. Patterns record
 * the saves of guarded prompts that then succeeded. Stored as an event log shared by processes.
 */
import type { Clock } from '../../core/clock.js';
import { isoTime } from '../../core/clock.js';
import { newId } from '../../core/ids.js';
import { paginate } from '../../core/pagination.js';
import type { Page, PageRequest } from '../../core/pagination.js';
import type { Decision, EventStore } from '../../storage/eventStore.js';
import type { Storage } from '../../storage/storage.js';
import { TfIdfIndex } from './tfidf.js';

export interface FailurePattern {
  id: string;
  operation: string;
  failure_type: string;
  prompt_summary: string;
  output_summary: string;
  grader_scores: Record<string, number>;
  occurrences: number;
  saves: number;
  first_seen: string;
  last_seen: string;
}

type ImmuneEvent =
  | { type: 'pattern_added'; pattern: FailurePattern; text: string }
  | { type: 'occurrence'; id: string; at: string }
  | { type: 'save'; id: string; at: string };

interface ImmuneState {
  patterns: Map<string, FailurePattern>;
  order: string[];
  index: TfIdfIndex;
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
    prompt_summary: string;
  }>;
  warnings: string[];
  guardrails: string[];
  injection_markers: string[];
}

function apply(state: ImmuneState, event: ImmuneEvent): void {
  switch (event.type) {
    case 'pattern_added':
      state.patterns.set(event.pattern.id, structuredClone(event.pattern));
      state.order.push(event.pattern.id);
      state.index.add(event.pattern.id, event.text);
      return;
    case 'occurrence': {
      const p = state.patterns.get(event.id);
      if (p) {
        p.occurrences++;
        p.last_seen = event.at;
      }
      return;
    }
    case 'save': {
      const p = state.patterns.get(event.id);
      if (p) p.saves++;
      return;
    }
  }
}

export class ImmuneSystem {
  private readonly store: EventStore<ImmuneState, ImmuneEvent>;
  private readonly matchThreshold: number;
  private readonly blockThreshold: number;
  private readonly mergeThreshold: number;

  constructor(
    storage: Storage,
    private readonly clock: Clock,
    options: ImmuneOptions = {},
  ) {
    this.store = storage.events<ImmuneState, ImmuneEvent>('immune', {
      initial: () => ({ patterns: new Map(), order: [], index: new TfIdfIndex() }),
      apply,
    });
    this.matchThreshold = options.matchThreshold ?? 0.35;
    this.blockThreshold = options.blockThreshold ?? 0.9;
    this.mergeThreshold = options.mergeThreshold ?? 0.85;
  }

  /** Remembers a failure: a new pattern, or one more occurrence of a near-identical one. */
  async recordFailure(f: {
    operation: string;
    failure_type: string;
    prompt: string;
    output: string;
    grader_scores: Record<string, number>;
  }): Promise<{ pattern_id: string; merged: boolean }> {
    return this.store.transact((state): Decision<ImmuneEvent, { pattern_id: string; merged: boolean }> => {
      const at = isoTime(this.clock);
      for (const m of state.index.query(f.prompt, 5, this.mergeThreshold)) {
        const p = state.patterns.get(m.id);
        if (p && p.operation === f.operation && p.failure_type === f.failure_type) {
          return { event: { type: 'occurrence', id: p.id, at }, result: { pattern_id: p.id, merged: true } };
        }
      }
      const pattern: FailurePattern = {
        id: newId('pat'),
        operation: f.operation,
        failure_type: f.failure_type,
        prompt_summary: f.prompt.slice(0, 300),
        output_summary: f.output.slice(0, 200),
        grader_scores: f.grader_scores,
        occurrences: 1,
        saves: 0,
        first_seen: at,
        last_seen: at,
      };
      return {
        event: { type: 'pattern_added', pattern, text: f.prompt.slice(0, 4000) },
        result: { pattern_id: pattern.id, merged: false },
      };
    });
  }

  /** Risk of a prompt from the failures it resembles; guardrails; whether to proceed. */
  async check(prompt: string, operation?: string): Promise<CheckResult> {
    const injection = INJECTION.filter((re) => re.test(prompt)).map((re) => re.source);
    return this.store.read((state) => {
      const matches = state.index.query(prompt, 5, this.matchThreshold).flatMap((m) => {
        const p = state.patterns.get(m.id);
        return p ? [{ p, similarity: m.similarity }] : [];
      });
      let risk = 0;
      for (const { p, similarity } of matches) {
        // Similarity decides; recurrence, severity and the same operation only scale it.
        const recurrence = 1 + Math.min(p.occurrences - 1, 9) / 30;
        const sameOperation = operation && p.operation === operation ? 1.05 : 1;
        risk = Math.max(
          risk,
          Math.min(1, similarity * (SEVERITY[p.failure_type] ?? 0.7) * recurrence * sameOperation),
        );
      }
      if (injection.length > 0) risk = Math.max(risk, 0.6);
      const types = new Set(matches.map((m) => m.p.failure_type));
      if (injection.length > 0) types.add('unsafe_output');
      const guardrails = GUARDRAILS.filter(([type]) => types.has(type)).map(([, text]) => text);
      const warnings = [
        ...matches.map(
          (m) =>
            `resembles a ${m.p.failure_type} failure of ${m.p.operation} seen ${m.p.occurrences}x (similarity ${m.similarity.toFixed(2)})`,
        ),
        ...(injection.length ? ['the prompt contains prompt-injection markers'] : []),
      ];
      return {
        risk: Number(risk.toFixed(4)),
        should_proceed: risk < this.blockThreshold,
        matches: matches.map(({ p, similarity }) => ({
          pattern_id: p.id,
          similarity: Number(similarity.toFixed(4)),
          failure_type: p.failure_type,
          operation: p.operation,
          occurrences: p.occurrences,
          prompt_summary: p.prompt_summary.slice(0, 160),
        })),
        warnings,
        guardrails,
        injection_markers: injection,
      };
    });
  }

  /** A guarded prompt that matched these patterns then succeeded. */
  async recordSave(patternIds: readonly string[]): Promise<void> {
    for (const id of patternIds)
      await this.store.transact(() => ({
        event: { type: 'save', id, at: isoTime(this.clock) },
        result: undefined,
      }));
  }

  async status() {
    return this.store.read((state) => {
      const byType: Record<string, number> = {};
      let occurrences = 0;
      let saves = 0;
      for (const p of state.patterns.values()) {
        byType[p.failure_type] = (byType[p.failure_type] ?? 0) + p.occurrences;
        occurrences += p.occurrences;
        saves += p.saves;
      }
      return {
        patterns: state.patterns.size,
        occurrences,
        saves,
        by_failure_type: byType,
        block_threshold: this.blockThreshold,
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
