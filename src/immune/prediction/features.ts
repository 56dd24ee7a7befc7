/**
 * Features of a prompt for the failure predictor: TF-IDF weights over a vocabulary learned from the
 * training data (stemmed unigrams and bigrams, chosen by how differently often they occur in
 * failures and successes), plus meta features of the prompt and the tool it is for. The spec is
 * saved with the model, so a model always vectorises the way it was trained.
 */
import { terms } from '../tfidf.js';

export interface FeatureSpec {
  version: 1;
  /** Vocabulary terms ("stem" or "stem stem"), in vector order after the meta features. */
  vocabulary: string[];
  /** IDF of each vocabulary term over the training texts. */
  idf: number[];
  /** Names of the meta features, in vector order. */
  meta: string[];
}

const RISKY =
  /\b(delete|drop|truncate|remove|rm|sudo|password|passwd|token|secret|credential|key|force|overwrite|wipe|chmod|kill|production|prod)\b/gi;
const COMPLEX =
  /\b(recursive(ly)?|all|every|parallel|batch(es)?|concurrent(ly)?|entire|whole|migrate|refactor|across|bulk|thousands?)\b/gi;
const NEGATIVE = /\b(not|never|no|don't|dont|without|avoid|can't|cannot|won't|except|unless)\b/gi;
const CODE = /```|\bfunction\b|=>|\bclass\s+\w|\bimport\s|\bdef\s+\w|;\s*$|\{\s*\n|<\/?[a-z]+>/im;

export const META_FEATURES = [
  'log_length',
  'words',
  'lines',
  'special_ratio',
  'upper_ratio',
  'digit_ratio',
  'risky_words',
  'complexity_words',
  'negative_words',
  'question_marks',
  'contains_code',
  'tool_filesystem',
  'tool_database',
  'tool_spawn',
  'tool_network',
] as const;

function count(re: RegExp, text: string): number {
  return text.match(re)?.length ?? 0;
}

/** Tool kind flags from a tool or operation name. */
function toolKind(tool: string | undefined): [number, number, number, number] {
  const t = (tool ?? '').toLowerCase();
  return [
    /file|fs|path|read|write|dir|disk/.test(t) ? 1 : 0,
    /db|sql|database|table|query|migrat/.test(t) ? 1 : 0,
    /spawn|agent|archetype|parallel/.test(t) ? 1 : 0,
    /http|fetch|curl|web|url|api|request/.test(t) ? 1 : 0,
  ];
}

export function metaFeatures(text: string, tool?: string): number[] {
  const n = Math.max(1, text.length);
  let special = 0;
  let upper = 0;
  let digits = 0;
  for (const ch of text) {
    if (/[A-Z]/.test(ch)) upper++;
    else if (/[0-9]/.test(ch)) digits++;
    else if (!/[a-z\s]/i.test(ch)) special++;
  }
  const words = text.split(/\s+/).filter(Boolean).length;
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return [
    round(Math.log1p(text.length)),
    words,
    text.split('\n').length,
    round(special / n),
    round(upper / n),
    round(digits / n),
    count(RISKY, text),
    count(COMPLEX, text),
    count(NEGATIVE, text),
    count(/\?/g, text),
    CODE.test(text) ? 1 : 0,
    ...toolKind(tool),
  ];
}

/** Unigrams and bigrams of stemmed terms. */
function grams(text: string): string[] {
  const t = terms(text);
  const out = [...t];
  for (let i = 1; i < t.length; i++) out.push(`${t[i - 1]} ${t[i]}`);
  return out;
}

/**
 * Learns the vocabulary: terms in at least `minDf` texts, ranked by the gap between their rate in
 * failures and in successes (scaled by how common they are), the top `maxTerms` kept.
 */
export function buildSpec(
  rows: ReadonlyArray<{ text: string; label: 0 | 1 }>,
  options: { maxTerms: number; minDf: number },
): FeatureSpec {
  const df = new Map<string, [number, number]>();
  let positives = 0;
  for (const row of rows) {
    if (row.label === 1) positives++;
    for (const g of new Set(grams(row.text))) {
      const c = df.get(g) ?? [0, 0];
      c[row.label]++;
      df.set(g, c);
    }
  }
  const negatives = rows.length - positives;
  const scored: Array<[string, number]> = [];
  for (const [g, [neg, pos]] of df) {
    if (neg + pos < options.minDf) continue;
    const gap = Math.abs(pos / Math.max(1, positives) - neg / Math.max(1, negatives));
    scored.push([g, gap]);
  }
  scored.sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const vocabulary = scored.slice(0, options.maxTerms).map(([g]) => g);
  const idf = vocabulary.map((g) => {
    const [neg, pos] = df.get(g)!;
    return Math.log((rows.length + 1) / (neg + pos + 1)) + 1;
  });
  return { version: 1, vocabulary, idf, meta: [...META_FEATURES] };
}

/** Names of every vector position, meta features first. */
export function featureNames(spec: FeatureSpec): string[] {
  return [...spec.meta, ...spec.vocabulary.map((v) => `term:${v}`)];
}

export function vectorize(spec: FeatureSpec, text: string, tool?: string): number[] {
  const counts = new Map<string, number>();
  const all = grams(text);
  for (const g of all) counts.set(g, (counts.get(g) ?? 0) + 1);
  const total = Math.max(1, all.length);
  const tfidf = spec.vocabulary.map((g, i) => {
    const c = counts.get(g);
    return c ? Math.round((c / total) * spec.idf[i]! * 1000) / 1000 : 0;
  });
  return [...metaFeatures(text, tool), ...tfidf];
}
