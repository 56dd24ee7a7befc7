/**
 * The failure memory's semantic stage: texts embedded by a model (OpenAI, Gemini or any
 * OpenAI-compatible /v1/embeddings), cached by a hash of model and text (in memory and in an
 * append-only log every process shares, so a text is embedded once), and searched by brute-force
 * cosine over one contiguous matrix of unit vectors. TF-IDF stays the first stage; this one adds
 * meaning: a paraphrase with no shared key term is found, and a request that shares the words but
 * not the task scores low. Failures are values: the caller falls back to TF-IDF and says why.
 */
import { createHash } from 'node:crypto';
import type { AppendLog } from '../storage/appendLog.js';
import { TopK } from './tfidf.js';

/** Embeds texts with one model; never throws. */
export interface Embedder {
  /** provider/model, e.g. openai/text-embedding-3-small. */
  readonly model: string;
  embed(
    texts: readonly string[],
    purpose: 'query' | 'index',
  ): Promise<{ ok: true; vectors: Float32Array[] } | { ok: false; error: string }>;
}

/** One cached vector on disk: key (hash of model and text), model, dimensions, float32 little-endian as base64. */
export interface StoredVector {
  k: string;
  m: string;
  n: number;
  v: string;
}

/** Longest text embedded (the rest is cut: failure prompts are summarised at this length anyway). */
const MAX_TEXT = 4000;
/** Texts per embeddings call when indexing. */
const BATCH = 64;
/** Vectors of recent prompts kept for a repeat (least recently used first out). */
const MAX_QUERIES = 2_000;
/** Vectors read from the log or embedded that no document uses yet; past it they are dropped. */
const MAX_PENDING = 200_000;

function unit(v: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i]! * v[i]!;
  const norm = Math.sqrt(sum) || 1;
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i]! / norm;
  return out;
}

function encode(v: Float32Array): string {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
}

function decode(s: string): Float32Array | undefined {
  const b = Buffer.from(s, 'base64');
  if (b.length === 0 || b.length % 4 !== 0) return undefined;
  const v = new Float32Array(b.length / 4);
  for (let i = 0; i < v.length; i++) v[i] = b.readFloatLE(i * 4);
  return v.every(Number.isFinite) ? v : undefined;
}

export interface SemanticHit {
  doc: string;
  cosine: number;
}

/**
 * One copy of each vector: an indexed document's lives in its row of the matrix (found by its
 * text's key too); one read from the log or embedded for a document not indexed yet waits in
 * `pending`; a prompt's waits among the recent queries (bounded) until its failure makes it a
 * document. Only documents' vectors are written to the log.
 */
export class SemanticStage {
  private readonly pending = new Map<string, Float32Array>();
  private readonly queries = new Map<string, Float32Array>();
  private readonly rowOfKey = new Map<string, number>();
  private dims = 0;
  private matrix = new Float32Array(0);
  private readonly rowOf = new Map<string, number>();
  private docOf: Array<string | undefined> = [];
  /** Keys logged by this process or read from the log (not written again). */
  private readonly stored = new Set<string>();
  private rows = 0;
  private loaded: Promise<void> | undefined;
  /** Embedding calls made and their total time (the check's added latency, reported by status). */
  readonly stats = { calls: 0, texts: 0, cached: 0, failures: 0, ms: 0, last_error: '' };

  constructor(
    private readonly embedder: Embedder,
    private readonly log: AppendLog<StoredVector>,
    private readonly now: () => number = Date.now,
  ) {}

  get model(): string {
    return this.embedder.model;
  }

  get indexed(): number {
    return this.rowOf.size;
  }

  private key(text: string): string {
    return createHash('sha256')
      .update(`${this.embedder.model}\n${text.slice(0, MAX_TEXT)}`)
      .digest('base64url');
  }

  /** Reads the vectors other processes (and earlier runs) stored; again later to pick up theirs. */
  private async refresh(): Promise<void> {
    for (const r of await this.log.readAll().catch(() => [] as StoredVector[])) {
      if (r.m !== this.embedder.model || this.stored.has(r.k)) continue;
      this.stored.add(r.k);
      if (this.rowOfKey.has(r.k) || this.pending.size >= MAX_PENDING) continue;
      const v = typeof r.v === 'string' ? decode(r.v) : undefined;
      // A record whose length is not the one written (torn, or changed on the way) is embedded again.
      if (v && v.length === r.n && (this.dims === 0 || v.length === this.dims)) this.pending.set(r.k, v);
    }
  }

  private ready(): Promise<void> {
    return (this.loaded ??= this.refresh());
  }

  private byKey(k: string): Float32Array | undefined {
    const row = this.rowOfKey.get(k);
    if (row !== undefined && this.docOf[row] !== undefined)
      return this.matrix.subarray(row * this.dims, (row + 1) * this.dims);
    const q = this.queries.get(k);
    if (q) {
      // Most recently used last.
      this.queries.delete(k);
      this.queries.set(k, q);
      return q;
    }
    return this.pending.get(k);
  }

  /** The cached vector of a text, if any (no call). Valid until the next index(). */
  cached(text: string): Float32Array | undefined {
    return this.byKey(this.key(text));
  }

  /** Durable for the other processes and the next start; a failed write only costs a later re-embedding. */
  private persist(k: string, u: Float32Array): void {
    if (this.stored.has(k)) return;
    this.stored.add(k);
    void this.log
      .append({ k, m: this.embedder.model, n: u.length, v: encode(u) })
      .catch(() => this.stored.delete(k));
  }

  private remember(text: string, v: Float32Array, purpose: 'query' | 'index'): Float32Array {
    const u = unit(v);
    const k = this.key(text);
    if (purpose === 'query') {
      this.queries.set(k, u);
      if (this.queries.size > MAX_QUERIES) this.queries.delete(this.queries.keys().next().value!);
    } else {
      if (this.pending.size < MAX_PENDING) this.pending.set(k, u);
      this.persist(k, u);
    }
    return u;
  }

  /**
   * Vectors for texts: cached ones at once, the others in calls of up to 64 texts. Returns an error
   * (and no vectors) when the model cannot be reached; never throws.
   */
  async vectors(
    texts: readonly string[],
    purpose: 'query' | 'index',
  ): Promise<{ ok: true; vectors: Float32Array[]; called: boolean } | { ok: false; error: string }> {
    await this.ready();
    const out: Array<Float32Array | undefined> = texts.map((t) => this.cached(t));
    let missing = texts.flatMap((t, i) => (out[i] ? [] : [i]));
    if (missing.length > 0 && purpose === 'index') {
      // Another process may have embedded them meanwhile (not looked up for a query: it is new text).
      await this.refresh();
      for (const i of missing) out[i] = this.cached(texts[i]!);
      missing = missing.filter((i) => !out[i]);
    }
    this.stats.cached += texts.length - missing.length;
    for (let start = 0; start < missing.length; start += BATCH) {
      const batch = missing.slice(start, start + BATCH);
      const began = this.now();
      const r = await this.embedder.embed(
        batch.map((i) => texts[i]!.slice(0, MAX_TEXT)),
        purpose,
      );
      this.stats.calls++;
      this.stats.ms += this.now() - began;
      if (!r.ok) {
        this.stats.failures++;
        this.stats.last_error = r.error;
        return { ok: false, error: r.error };
      }
      const dims = r.vectors[0]?.length ?? 0;
      if (this.dims !== 0 && dims !== this.dims) {
        const error = `the embedding model answered ${dims} dimensions where its earlier vectors have ${this.dims}`;
        this.stats.failures++;
        this.stats.last_error = error;
        return { ok: false, error };
      }
      this.dims ||= dims;
      this.stats.texts += batch.length;
      batch.forEach((i, j) => (out[i] = this.remember(texts[i]!, r.vectors[j]!, purpose)));
    }
    return { ok: true, vectors: out as Float32Array[], called: missing.length > 0 };
  }

  /** Puts a document's vector (if its text is cached) in the search matrix. Returns whether it is there. */
  index(doc: string, text: string): boolean {
    const k = this.key(text);
    const found = this.byKey(k);
    if (!found) {
      this.forget(doc);
      return false;
    }
    // A copy: the matrix may grow (and move) below.
    const v = Float32Array.from(found);
    if (this.dims === 0) this.dims = v.length;
    if (v.length !== this.dims) return false;
    let row = this.rowOf.get(doc);
    if (row === undefined) {
      row = this.rows++;
      if (row * this.dims >= this.matrix.length) {
        const grown = new Float32Array(Math.max(1024 * this.dims, this.matrix.length * 2));
        grown.set(this.matrix);
        this.matrix = grown;
      }
      this.rowOf.set(doc, row);
      this.docOf[row] = doc;
    }
    this.matrix.set(v, row * this.dims);
    this.rowOfKey.set(k, row);
    this.pending.delete(k);
    // A prompt's vector becomes a document's: now worth keeping on disk.
    this.persist(k, v);
    return true;
  }

  /** Takes a document out of the search (its row is left empty). */
  forget(doc: string): void {
    const row = this.rowOf.get(doc);
    if (row === undefined) return;
    this.rowOf.delete(doc);
    this.docOf[row] = undefined;
    this.matrix.fill(0, row * this.dims, (row + 1) * this.dims);
  }

  /** Cosine of a query vector with one indexed document, or undefined when it has no vector. */
  cosine(q: Float32Array, doc: string): number | undefined {
    const row = this.rowOf.get(doc);
    if (row === undefined || q.length !== this.dims) return undefined;
    const m = this.matrix;
    const base = row * this.dims;
    let dot = 0;
    for (let i = 0; i < this.dims; i++) dot += q[i]! * m[base + i]!;
    return dot;
  }

  /** The `k` indexed documents closest to a query vector with cosine >= floor, best first. */
  search(q: Float32Array, k: number, floor: number): SemanticHit[] {
    if (q.length !== this.dims || this.rows === 0) return [];
    const m = this.matrix;
    const d = this.dims;
    const tail = d - (d % 4);
    const best = new TopK<{ score: number; row: number }>(k);
    let bar = floor;
    for (let row = 0, base = 0; row < this.rows; row++, base += d) {
      // Four accumulators: the loop is the whole cost of a search (brute force, 100,000 x d).
      let a = 0;
      let b = 0;
      let c = 0;
      let e = 0;
      let i = 0;
      for (; i < tail; i += 4) {
        a += q[i]! * m[base + i]!;
        b += q[i + 1]! * m[base + i + 1]!;
        c += q[i + 2]! * m[base + i + 2]!;
        e += q[i + 3]! * m[base + i + 3]!;
      }
      for (; i < d; i++) a += q[i]! * m[base + i]!;
      const dot = a + b + c + e;
      if (dot < bar || this.docOf[row] === undefined) continue;
      best.add({ score: dot, row });
      bar = Math.max(floor, best.bar);
    }
    return best.items.map((x) => ({ doc: this.docOf[x.row]!, cosine: x.score }));
  }
}
