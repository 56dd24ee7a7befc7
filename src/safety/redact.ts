/**
 * The one secret redactor, applied where text is written, to every sink: state files (documents,
 * logs, events), the stderr log, Langfuse traces, tool results, exports, dashboards, failure
 * patterns, alerts and webhooks. It removes the values of configured secret variables and common
 * credential shapes, whatever the configuration, plus the project's own patterns.
 */

export const REDACTED = '[REDACTED]';

/** Credential shapes removed wherever they appear. */
const SECRET_PATTERNS: readonly RegExp[] = [
  // OpenAI (sk-, sk-proj-, sk-svcacct-, sk-admin-) and Anthropic (sk-ant-...) keys.
  /\bsk-[A-Za-z0-9_-]{20,}/g,
  // Google API keys.
  /\bAIza[0-9A-Za-z_-]{30,}/g,
  // GitHub tokens.
  /\bgh[pousr]_[A-Za-z0-9]{30,}/g,
  /\bgithub_pat_[A-Za-z0-9_]{22,}/g,
  // Slack tokens and webhook paths.
  /\bxox[abposr]-[A-Za-z0-9-]{10,}/g,
  /hooks\.slack\.com\/services\/[A-Za-z0-9/]+/g,
  // AWS access key ids and secret keys written as settings.
  /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g,
  /(aws_secret_access_key\s*[=:]\s*)[A-Za-z0-9/+=]{40}/gi,
  // Bearer tokens and bare JWTs (three base64url parts, the first two JSON objects).
  /\bBearer\s+[A-Za-z0-9._~+/-]{16,}=*/gi,
  /\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g,
  // PEM private keys.
  /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g,
  // npm, GitLab, Stripe and Hugging Face tokens.
  /\bnpm_[A-Za-z0-9]{30,}/g,
  /\bglpat-[A-Za-z0-9_-]{20,}/g,
  /\b[rsp]k_(?:live|test)_[A-Za-z0-9]{16,}/g,
  /\bhf_[A-Za-z0-9]{30,}/g,
];

/**
 * Where a value of a variable whose name says secret starts: the secret word, the rest of the name
 * (bounded), then `=`, `:` or `": "`. Found by the word first, so ordinary text costs one scan.
 */
const SECRET_SITE =
  /(?:token|secret|key|passw|pwd|credential|auth)[A-Za-z0-9_.-]{0,40}["']?[ \t]{0,3}[:=][ \t]{0,3}["']?/gi;
/** Characters that end a value. */
const VALUE_END = new Set([...' \t\r\n"\'`&;,|<>()']);
const MIN_VALUE = 12;
const MAX_VALUE = 400;

/** Bits per character of a string (Shannon): random keys have 4 and more, words about 3 or less. */
function entropy(text: string): number {
  const counts = new Map<string, number>();
  for (const c of text) counts.set(c, (counts.get(c) ?? 0) + 1);
  let bits = 0;
  for (const n of counts.values()) {
    const p = n / text.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

/** The value of a variable whose name says secret, when it is long and looks random. */
function redactNamed(text: string): string {
  let out = '';
  let from = 0;
  SECRET_SITE.lastIndex = 0;
  for (let m = SECRET_SITE.exec(text); m; m = SECRET_SITE.exec(text)) {
    const start = m.index + m[0].length;
    let end = start;
    while (end < text.length && end - start < MAX_VALUE && !VALUE_END.has(text[end]!)) end++;
    const value = text.slice(start, end);
    if (value.length >= MIN_VALUE && !value.startsWith(REDACTED) && entropy(value) >= 3) {
      out += `${text.slice(from, start)}${REDACTED}`;
      from = end;
    }
    SECRET_SITE.lastIndex = Math.max(end, start);
  }
  return from === 0 ? text : out + text.slice(from);
}

/**
 * Something every credential shape above (and a URL password) contains: text without any of these
 * needs no pattern pass, which keeps redaction off the hot path of ordinary results and writes.
 */
const ANCHORS =
  /\bsk-[A-Za-z0-9_-]{20}|AIza|\bgh[pousr]_|github_pat_|\bxox[abposr]-|hooks\.slack|\b(?:AKIA|ASIA)[0-9A-Z]{16}|eyJ[A-Za-z0-9_-]{5,}\.|PRIVATE KEY|:\/\/[^\s:@/]+:[^\s@/]+@|\bnpm_|\bglpat-|\b[rsp]k_(?:live|test)_|\bhf_/;
const ANCHORS_ANY_CASE =
  /bearer\s|aws_secret|(?:token|secret|key|passw|pwd|credential|auth)[A-Za-z0-9_.-]*["']?\s*[:=]/i;

/** user:password@ in URLs keeps the user and the host. */
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:@/]+):[^\s@/]+@/gi;

export interface RedactorOptions {
  /** Exact values to remove (configured keys, webhook URLs). Values shorter than 4 characters are ignored. */
  secrets?: readonly string[];
  /** Further patterns (TASK_ORCHESTRATOR_REDACT_PATTERNS); each needs the g flag or gets it. */
  patterns?: readonly RegExp[];
}

export type Redactor = (text: string) => string;

/** Whether `text` may hold something `createRedactor` would change (a cheap pre-check). */
export type RedactionProbe = (text: string) => boolean;

export function createRedactor(options: RedactorOptions = {}): Redactor {
  const values = [...new Set((options.secrets ?? []).filter((s) => s.length >= 4))].sort(
    (a, b) => b.length - a.length,
  );
  const extra = (options.patterns ?? []).map((p) => (p.global ? p : new RegExp(p.source, `${p.flags}g`)));
  const patterns = [...SECRET_PATTERNS, ...extra];
  // A value also appears JSON-escaped inside serialised text (a quote or backslash in a secret).
  const probeValues = [...new Set(values.flatMap((v) => [v, JSON.stringify(v).slice(1, -1)]))];
  const extraAnchor = extra.length
    ? new RegExp(extra.map((p) => `(?:${p.source})`).join('|'), 'i')
    : undefined;
  const probe: RedactionProbe = (text) =>
    ANCHORS.test(text) ||
    ANCHORS_ANY_CASE.test(text) ||
    probeValues.some((v) => text.includes(v)) ||
    (extraAnchor?.test(text) ?? false);
  const redact: Redactor & { probe: RedactionProbe } = Object.assign(
    (text: string) => {
      if (!probe(text)) return text;
      let out = text;
      for (const v of values) if (out.includes(v)) out = out.split(v).join(REDACTED);
      for (const p of patterns)
        out = out.replace(p, (match: string, keep?: unknown) =>
          typeof keep === 'string' && match.startsWith(keep) ? `${keep}${REDACTED}` : REDACTED,
        );
      return redactNamed(out.replace(URL_PASSWORD, `$1:${REDACTED}@`));
    },
    { probe },
  );
  return redact;
}

/**
 * Redacts a value that is about to be serialised: one probe over `json` (its serialised form) and,
 * only when something may be a secret, a deep pass over its strings. Returns the value unchanged
 * (same object) when nothing needed redacting.
 */
export function redactValue<T>(value: T, json: string, redact: Redactor): T {
  const probe = (redact as Partial<{ probe: RedactionProbe }>).probe;
  if (probe && !probe(json)) return value;
  return redactDeep(value, redact);
}

/** A copy of `value` with every string (keys left alone) passed through `redact`. */
export function redactDeep<T>(value: T, redact: Redactor, depth = 0): T {
  if (typeof value === 'string') return redact(value) as T;
  if (depth > 40 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v: unknown) => redactDeep(v, redact, depth + 1)) as T;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = redactDeep(v, redact, depth + 1);
  return out as T;
}
