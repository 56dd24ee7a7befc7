/**
 * TF-IDF with an inverted index and cosine similarity. Text is tokenised, lower-cased, stop words
 * dropped and stemmed (natural's Porter stemmer and stop-word list, imported as submodules: the
 * package root prints to stdout). Adding a document updates the postings; nothing is rebuilt.
 * IDF is computed at query time from live document frequencies, and only documents sharing a term
 * with the query are scored.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const stemmer = require('natural/lib/natural/stemmers/porter_stemmer.js') as { stem(word: string): string };
const { words: STOP_WORDS } = require('natural/lib/natural/util/stopwords.js') as { words: string[] };
const STOP = new Set(STOP_WORDS);

/** Terms of a text: word tokens, no stop words, stemmed. */
export function terms(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.toLowerCase().split(/[^\p{L}\p{N}]+/u)) {
    if (raw.length < 2 || STOP.has(raw)) continue;
    out.push(stemmer.stem(raw));
  }
  return out;
}

function counts(list: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const t of list) m.set(t, (m.get(t) ?? 0) + 1);
  return m;
}

export interface Match {
  id: string;
  similarity: number;
}

export class TfIdfIndex {
  private readonly docs = new Map<string, Map<string, number>>();
  private readonly postings = new Map<string, Set<string>>();

  get size(): number {
    return this.docs.size;
  }

  /** Adds (or replaces) a document. */
  add(id: string, text: string): void {
    if (this.docs.has(id)) this.remove(id);
    const tf = counts(terms(text));
    this.docs.set(id, tf);
    for (const t of tf.keys()) {
      let set = this.postings.get(t);
      if (!set) this.postings.set(t, (set = new Set()));
      set.add(id);
    }
  }

  remove(id: string): void {
    const tf = this.docs.get(id);
    if (!tf) return;
    for (const t of tf.keys()) {
      const set = this.postings.get(t);
      set?.delete(id);
      if (set && set.size === 0) this.postings.delete(t);
    }
    this.docs.delete(id);
  }

  private idf(term: string): number {
    const df = this.postings.get(term)?.size ?? 0;
    return Math.log((this.docs.size + 1) / (df + 1)) + 1;
  }

  /** The `k` documents most similar to `text` (cosine of TF-IDF vectors), best first. */
  query(text: string, k = 5, minSimilarity = 0): Match[] {
    const q = counts(terms(text));
    if (q.size === 0) return [];
    const idf = new Map<string, number>();
    let qNorm = 0;
    const candidates = new Set<string>();
    for (const [t, n] of q) {
      const w = this.idf(t);
      idf.set(t, w);
      qNorm += (n * w) ** 2;
      for (const id of this.postings.get(t) ?? []) candidates.add(id);
    }
    qNorm = Math.sqrt(qNorm);
    const scored: Match[] = [];
    for (const id of candidates) {
      const tf = this.docs.get(id)!;
      let dot = 0;
      let dNorm = 0;
      for (const [t, n] of tf) {
        const w = idf.get(t) ?? this.idf(t);
        dNorm += (n * w) ** 2;
        const qn = q.get(t);
        if (qn) dot += qn * w * n * w;
      }
      const similarity = dot / (qNorm * Math.sqrt(dNorm));
      if (similarity >= minSimilarity) scored.push({ id, similarity });
    }
    return scored.sort((a, b) => b.similarity - a.similarity).slice(0, k);
  }
}
