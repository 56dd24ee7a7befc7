/** What a match adds to a prompt (guardrails per failure type), how bad a recurrence is, and prompt-injection markers. */

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
  [
    'tool_error',
    'A similar command or edit failed before in this project: read the earlier error and fix its cause before running it again.',
  ],
  ['provider_error', 'Keep the request concise; a similar request failed at the provider before.'],
];

/** How bad a failure type is when it recurs (scales the risk of a match). */
export const SEVERITY: Record<string, number> = {
  unsafe_output: 1,
  hallucination: 0.95,
  schema_violation: 0.9,
  json_invalid: 0.9,
  empty_response: 0.85,
  pattern_mismatch: 0.8,
  length_violation: 0.7,
  low_quality: 0.7,
  refusal: 0.7,
  tool_error: 0.6,
  provider_error: 0.6,
};

export const INJECTION = [
  /ignore (all |any )?(previous|prior|above) (instructions|prompts?)/i,
  /disregard (the |all |your )?(previous |prior )?(instructions|rules|system prompt)/i,
  /you are now (in )?(developer|dan|jailbreak)/i,
  /reveal (your |the )?(system prompt|hidden instructions)/i,
  /\bDAN mode\b/i,
  /pretend (that )?you have no (rules|restrictions)/i,
];
