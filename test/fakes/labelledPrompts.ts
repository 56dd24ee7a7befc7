/**
 * Labelled prompts with a learnable signal, for predictor tests and benchmarks. A prompt fails
 * (label 1) mostly when it asks for a destructive or sweeping change (risky verbs on production
 * data, "all"/"recursively", no tests) and mostly succeeds for contained tasks; 10% of labels are
 * flipped so nothing is perfectly separable. Deterministic for a seed.
 */
const SAFE_VERBS = ['summarise', 'review', 'document', 'explain', 'list', 'describe', 'format', 'translate'];
const RISKY_VERBS = ['delete', 'drop', 'truncate', 'overwrite', 'force push', 'wipe', 'purge', 'reset'];
const OBJECTS = [
  'the orders table',
  'the user profiles',
  'the billing job',
  'the release notes',
  'the api schema',
  'the audit log',
  'the cache layer',
  'the login page',
  'the invoice export',
  'the search index',
];
const SAFE_TAILS = [
  'in a short paragraph',
  'as a bullet list',
  'for the team wiki',
  'with one example',
  'in plain words',
];
const RISKY_TAILS = [
  'in production right now',
  'recursively across all services',
  'for every customer at once',
  'without running the tests',
  'using sudo on the main server',
];
const NEUTRAL = ['please', 'today', 'when you can', 'for the sprint', 'thanks', 'quickly'];

export interface LabelledPrompt {
  prompt: string;
  tool: string;
  label: 0 | 1;
}

export function labelledPrompts(n: number, seed = 1): LabelledPrompt[] {
  let s = seed >>> 0 || 1;
  const r = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const out: LabelledPrompt[] = [];
  for (let i = 0; i < n; i++) {
    const risky = r() < 0.45;
    const verb = risky ? pick(RISKY_VERBS) : pick(SAFE_VERBS);
    // Half the risky prompts carry a risky tail; some safe ones do too (the signal is the mix).
    const tail = (risky ? r() < 0.7 : r() < 0.15) ? pick(RISKY_TAILS) : pick(SAFE_TAILS);
    const prompt = `${pick(NEUTRAL)} ${verb} ${pick(OBJECTS)} ${tail} (ticket ${Math.floor(r() * 900) + 100})`;
    const tool = risky ? pick(['db_query', 'file_write', 'spawn_agent']) : pick(['spawn_agent', 'file_read']);
    let label: 0 | 1 = risky && (tail.includes('production') || tail.includes('all') || r() < 0.6) ? 1 : 0;
    if (!risky && RISKY_TAILS.includes(tail) && r() < 0.5) label = 1;
    if (r() < 0.1) label = label === 1 ? 0 : 1;
    out.push({ prompt, tool, label });
  }
  return out;
}

/** The same rows as JSONL lines in the generic format (prompt, tool, label). */
export function labelledJsonl(n: number, seed = 1): string {
  return labelledPrompts(n, seed)
    .map((p) => JSON.stringify(p))
    .join('\n');
}
