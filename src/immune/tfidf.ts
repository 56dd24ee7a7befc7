/**
 * TF-IDF with an inverted index and cosine similarity. Text is tokenised, lower-cased, stop words
 * dropped and stemmed (natural's Porter stemmer and stop-word list, imported as submodules: the
 * package root prints to stdout). Adding a document updates the postings; nothing is rebuilt.
 * IDF is computed at query time from live document frequencies, and only documents sharing a term
 * with the query are scored. Documents may form groups (a failure pattern and the rewordings that
 * joined it): frequencies count groups, so a pattern's own wordings do not make its words look
 * common and its variants less similar to each other.
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

/** Term counts of a list of terms, in order of first appearance. */
export function counts(list: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const t of list) m.set(t, (m.get(t) ?? 0) + 1);
  return m;
}

export interface Match {
  id: string;
  similarity: number;
}

/**
 * Keeps the `k` best of a stream, best first: an insertion into a short sorted list, so a query
 * touching 50,000 documents costs one comparison for most of them instead of a sort of all.
 */
export class TopK<T extends { score: number }> {
  readonly items: T[] = [];
  constructor(private readonly k: number) {}
  /** The score an item must beat to enter (once full). */
  get bar(): number {
    return this.items.length < this.k ? -Infinity : this.items[this.items.length - 1]!.score;
  }
  add(item: T): void {
    if (this.items.length >= this.k && item.score <= this.bar) return;
    let i = this.items.length;
    while (i > 0 && this.items[i - 1]!.score < item.score) i--;
    this.items.splice(i, 0, item);
    if (this.items.length > this.k) this.items.pop();
  }
}

/** Inverse document frequency of a term found in `df` of `live` groups (smoothed; never 0). */
export function idfOf(live: number, df: number): number {
  return Math.log((live + 1) / (df + 1)) + 1;
}

export class TfIdfIndex {
  /** Document number -> id and term counts (numbers index the score accumulator). */
  private ids: string[] = [];
  private tfs: Array<Map<string, number> | undefined> = [];
  private readonly numberOf = new Map<string, number>();
  /** Document number -> its group; group -> its live document numbers. */
  private groupOf: string[] = [];
  private readonly members = new Map<string, number[]>();
  /** term -> live groups containing it */
  private readonly df = new Map<string, number>();
  /** term -> documents containing it, with the term's count in each (parallel arrays) */
  private readonly postings = new Map<string, { docs: number[]; counts: number[] }>();
  /** Reused score accumulator; only touched entries are non-zero between queries. */
  private scratch = new Float64Array(0);
  /** Reused list of the document numbers a query touched (no per-query allocation). */
  private touchedBuf = new Int32Array(0);
  /** Cached vector norms, computed with the IDF of `normsAt` documents; refreshed at +10%. */
  private norms: number[] = [];
  private normsAt = 0;
  private live = 0;

  get size(): number {
    return this.live;
  }

  /** Whether another live document of the group (besides `n`) has the term. */
  private groupHas(group: string, term: string, n: number): boolean {
    for (const m of this.members.get(group) ?? []) if (m !== n && this.tfs[m]?.has(term)) return true;
    return false;
  }

  /** Adds (or replaces) a document, in its own group unless one is named: its postings are appended, nothing is rebuilt. */
  add(id: string, text: string, group: string = id): void {
    if (this.numberOf.has(id)) this.remove(id);
    const tf = counts(terms(text));
    const n = this.ids.length;
    this.ids.push(id);
    this.tfs.push(tf);
    this.groupOf[n] = group;
    this.numberOf.set(id, n);
    let members = this.members.get(group);
    if (!members) {
      this.members.set(group, (members = []));
      this.live++;
    }
    for (const t of tf.keys()) if (!this.groupHas(group, t, n)) this.df.set(t, (this.df.get(t) ?? 0) + 1);
    members.push(n);
    for (const [t, c] of tf) {
      let list = this.postings.get(t);
      if (!list) this.postings.set(t, (list = { docs: [], counts: [] }));
      list.docs.push(n);
      list.counts.push(c);
    }
    // Its norm with today's IDF; all norms are recomputed together each +10% of documents.
    let sum = 0;
    for (const [t, c] of tf) sum += (c * this.idf(t)) ** 2;
    this.norms[n] = Math.sqrt(sum);
  }

  remove(id: string): void {
    const n = this.numberOf.get(id);
    if (n === undefined) return;
    const group = this.groupOf[n]!;
    for (const t of this.tfs[n]!.keys())
      if (!this.groupHas(group, t, n)) {
        const left = (this.df.get(t) ?? 1) - 1;
        if (left > 0) this.df.set(t, left);
        else this.df.delete(t);
      }
    const members = this.members.get(group)!.filter((m) => m !== n);
    if (members.length) this.members.set(group, members);
    else {
      this.members.delete(group);
      this.live--;
    }
    // Postings keep the number; a removed document is skipped when scoring.
    this.tfs[n] = undefined;
    this.numberOf.delete(id);
  }

  private idf(term: string): number {
    return idfOf(this.live, this.df.get(term) ?? 0);
  }

  /** Recomputes every document's norm with current IDFs: O(total terms), done each +10% of documents. */
  private refreshNorms(): void {
    const idf = new Map<string, number>();
    for (const t of this.postings.keys()) idf.set(t, this.idf(t));
    const norms: number[] = new Array<number>(this.ids.length).fill(0);
    for (let n = 0; n < this.tfs.length; n++) {
      const tf = this.tfs[n];
      if (!tf) continue;
      let sum = 0;
      for (const [t, c] of tf) sum += (c * idf.get(t)!) ** 2;
      norms[n] = Math.sqrt(sum);
    }
    this.norms = norms;
    this.normsAt = Math.max(1, this.live);
  }

  /**
   * The live documents in index order, with their groups and term counts, and the document
   * frequencies: what a fresh index of the same documents holds (for the match index file,
   * matchIndex.ts, which computes IDF and norms from them exactly as `query` does after a refresh).
   */
  exportLive(): {
    live: number;
    docs: Array<{ id: string; group: string; tf: ReadonlyMap<string, number> }>;
    df: ReadonlyMap<string, number>;
  } {
    const docs: Array<{ id: string; group: string; tf: ReadonlyMap<string, number> }> = [];
    for (let n = 0; n < this.ids.length; n++) {
      const tf = this.tfs[n];
      if (tf) docs.push({ id: this.ids[n]!, group: this.groupOf[n]!, tf });
    }
    return { live: this.live, docs, df: this.df };
  }

  /** The `k` documents most similar to `text` (cosine of TF-IDF vectors), best first. */
  query(text: string, k = 5, minSimilarity = 0): Match[] {
    const q = counts(terms(text));
    if (q.size === 0 || this.live === 0) return [];
    if (this.live > this.normsAt * 1.1) this.refreshNorms();
    // Term at a time: accumulate each query term's contribution into one array.
    if (this.scratch.length < this.ids.length) {
      this.scratch = new Float64Array(Math.max(1024, this.ids.length * 2));
      this.touchedBuf = new Int32Array(this.scratch.length);
    }
    const scores = this.scratch;
    const touched = this.touchedBuf;
    let nTouched = 0;
    let qNorm = 0;
    for (const [t, c] of q) {
      const list = this.postings.get(t);
      const w = this.idf(t);
      qNorm += (c * w) ** 2;
      if (!list) continue;
      const qw = c * w * w;
      const { docs, counts: tfs } = list;
      for (let i = 0; i < docs.length; i++) {
        const n = docs[i]!;
        if (scores[n] === 0) touched[nTouched++] = n;
        scores[n]! += qw * tfs[i]!;
      }
    }
    qNorm = Math.sqrt(qNorm);
    const best = new TopK<{ score: number; n: number }>(k);
    for (let i = 0; i < nTouched; i++) {
      const n = touched[i]!;
      const score = scores[n]!;
      scores[n] = 0;
      if (!this.tfs[n]) continue; // removed
      const similarity = score / (qNorm * (this.norms[n] || 1));
      if (similarity >= minSimilarity) best.add({ score: similarity, n });
    }
    return best.items.map((b) => ({ id: this.ids[b.n]!, similarity: Math.min(1, b.score) }));
  }
}
