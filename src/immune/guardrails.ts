/**
 * What a match adds to a prompt: a pattern's guardrail (a person's text; else a specific one naming
 * what went wrong and what worked later, its details quoted as data; the failure type's fixed text
 * only as a last resort), how it is written into a prompt, and prompt-injection markers.
 */
import type { FailurePattern } from './patterns.js';

/** Guardrails per failure type, in the fixed order they are added. */
const GUARDRAILS: ReadonlyArray<[string, string]> = [
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
  [
    'tool_error',
    'A similar command or edit failed before in this project: read the earlier error and fix its cause before running it again.',
  ],
  ['provider_error', 'Keep the request concise; a similar request failed at the provider before.'],
];

export const INJECTION = [
  /ignore (all |any )?(previous|prior|above) (instructions|prompts?)/i,
  /disregard (the |all |your )?(previous |prior )?(instructions|rules|system prompt)/i,
  /you are now (in )?(developer|dan|jailbreak)/i,
  /reveal (your |the )?(system prompt|hidden instructions)/i,
  /\bDAN mode\b/i,
  /pretend (that )?you have no (rules|restrictions)/i,
];

/** What went wrong before, for one pattern: all of it stored text, quoted wherever it is shown. */
export interface Evidence {
  pattern_id: string;
  failure_type: string;
  /** Failing graders and their reasons, e.g. `relevance: the answer is about Paris, not Lyon`. */
  reasons: string[];
  /** How the failing answer began. */
  failing_output?: string;
  /** What worked later. */
  lesson?: string;
}

/** A pattern's guardrail: whose text it is, the instruction, and the evidence behind a specific one. */
export interface Guardrail {
  kind: 'person' | 'specific' | 'default';
  text: string;
  evidence?: Evidence;
}

/** The failure type's fixed text. */
function defaultGuardrail(failureType: string): string {
  return (
    GUARDRAILS.find(([type]) => type === failureType)?.[1] ??
    'A similar request failed before: check the answer against every part of the request.'
  );
}

/**
 * The guardrail a pattern adds: a person's text when they wrote one; else, when it has the
 * graders' reasons, a failing answer or a lesson, a specific instruction whose details travel as
 * quoted evidence; else the failure type's fixed text.
 */
export function guardrailOf(
  p: Pick<FailurePattern, 'failure_type'> &
    Partial<Pick<FailurePattern, 'id' | 'guardrail' | 'evidence' | 'grader_reasons' | 'lesson'>>,
): Guardrail {
  if (p.guardrail) return { kind: 'person', text: p.guardrail };
  const reasons = Object.entries(p.evidence?.reasons ?? p.grader_reasons ?? {})
    .filter(([, why]) => why.trim())
    .map(([grader, why]) => `${grader}: ${why.replace(/\s+/g, ' ').trim().slice(0, 300)}`)
    .slice(0, 4);
  const output = p.evidence?.output?.replace(/\s+/g, ' ').trim().slice(0, 200);
  const lesson = p.lesson?.replace(/\s+/g, ' ').trim().slice(0, 400);
  if (!p.id || (reasons.length === 0 && !lesson))
    return { kind: 'default', text: defaultGuardrail(p.failure_type) };
  // The instruction names only identifiers (cut to their safe characters); the rest is evidence.
  const word = (s: string) => s.replace(/[^a-z0-9_:-]/gi, '').slice(0, 40);
  const graders = reasons.map((r) => word(r.slice(0, r.indexOf(':')))).join(', ');
  return {
    kind: 'specific',
    text: `A similar request failed before (${word(p.failure_type)}${graders ? `; failed by ${graders}` : ''}): ${[
      ...(reasons.length ? ['do not repeat what its graders faulted'] : ['avoid what went wrong']),
      ...(lesson ? ['do what worked later'] : []),
    ].join(', and ')} (pattern ${word(p.id)}, quoted below).`,
    evidence: {
      pattern_id: p.id,
      failure_type: p.failure_type,
      reasons,
      ...(output ? { failing_output: output } : {}),
      ...(lesson ? { lesson } : {}),
    },
  };
}

/** The evidence as lines (for a quote). */
export function evidenceLines(evidence: readonly Evidence[]): string {
  return evidence
    .map((e) =>
      [
        `pattern ${e.pattern_id} (${e.failure_type}):`,
        ...e.reasons.map((r) => `  graders said: ${r}`),
        ...(e.failing_output ? [`  the failing answer began: ${e.failing_output}`] : []),
        ...(e.lesson ? [`  what worked later: ${e.lesson}`] : []),
      ].join('\n'),
    )
    .join('\n');
}
