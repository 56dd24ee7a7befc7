/**
 * The match index: what a process needs to check a prompt against the memory without replaying
 * its event log (a Claude Code hook when no server runs: at 10,000 patterns the replay costs half
 * a second, the index a few milliseconds). Processes that hold the whole memory write it beside the
 * log (`events/immune/match-index.bin`, replaced atomically); readers map it instead of replaying.
 *
 * It is exact, never "close enough": the file records how far into each segment of the log it
 * reaches. A reader compares that with the segments on disk: events appended since are read (only
 * those bytes) and applied to the patterns they touch with the log's own reducer; an event that
 * changes what is indexed (a new pattern or wording, a split, a prune, an import) makes the index
 * stale, and the reader replays the log instead. With several writers, whoever holds the whole
 * memory writes a fresh index; a reader never trusts one that does not match the log.
 *
 * Layout (little-endian): magic, format, header length, header (JSON: position, counts, section
 * offsets), then the index part read in one piece (term hash table, IDF, postings, document norms
 * and patterns), then strings read only for the patterns a prompt matches.
 */
import {
  closeSync,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { topPatterns } from './assessment.js';
import type { Ranked } from './assessment.js';
import { applyImmuneEvent, emptyImmuneState } from './patterns.js';
import type { FailurePattern, ImmuneEvent, ImmuneState } from './patterns.js';
import { counts, idfOf, terms, TopK } from './tfidf.js';

export const MATCH_INDEX_FILE = 'match-index.bin';
const MAGIC = 0x584d4f54; // "TOMX"
const FORMAT = 1;
const NONE = 0xffffffff;

/**
 * How far into the log an index reaches (EventStore's position). On a database there are no
 * segments: `anchor` names the event at `seq` as the database stored it (when it was written), so
 * that an index of another database's log with the same numbers is never taken for this one's.
 */
export interface LogPosition {
  seq: number;
  offsets: Record<string, number>;
  anchor?: string;
}

interface Header {
  seq: number;
  offsets: Record<string, number>;
  anchor?: string;
  live: number;
  terms: number;
  docs: number;
  patterns: number;
  postings: number;
  buckets: number;
  /** Byte offsets within the index part. */
  at: Record<Section, number>;
  /** Where the index part and the strings start in the file, and the file's size. */
  indexStart: number;
  stringsStart: number;
  size: number;
}

type Section =
  | 'buckets'
  | 'termIdf'
  | 'termKey'
  | 'termPost'
  | 'postDocs'
  | 'postCounts'
  | 'docNorm'
  | 'docPattern'
  | 'docId'
  | 'patternRef'
  | 'keys';

/** FNV-1a over UTF-16 code units: where a term's slot search starts. */
function hashTerm(term: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < term.length; i++) {
    h ^= term.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const align8 = (n: number): number => (n + 7) & ~7;

/** The index of a caught-up memory at `position` (state and position read together). */
export function buildMatchIndex(state: Readonly<ImmuneState>, position: LogPosition): Buffer {
  const { live, docs, df } = state.index.exportLive();
  const termNo = new Map<string, number>();
  const keys: string[] = [];
  const postDocs: number[][] = [];
  const postCounts: number[][] = [];
  docs.forEach((d, n) => {
    for (const [t, c] of d.tf) {
      let i = termNo.get(t);
      if (i === undefined) {
        i = keys.length;
        termNo.set(t, i);
        keys.push(t);
        postDocs.push([]);
        postCounts.push([]);
      }
      postDocs[i]!.push(n);
      postCounts[i]!.push(c);
    }
  });
  // IDF and norms exactly as TfIdfIndex computes them after a refresh (same order of sums).
  const idf = keys.map((t) => idfOf(live, df.get(t) ?? 0));
  const norms = docs.map((d) => {
    let sum = 0;
    for (const [t, c] of d.tf) sum += (c * idf[termNo.get(t)!]!) ** 2;
    return Math.sqrt(sum);
  });
  const patternIds = state.order.filter((id) => state.patterns.has(id));
  const patternNo = new Map(patternIds.map((id, i) => [id, i]));

  // Strings: pattern ids first (one read when tail events need them), then documents' ids and patterns.
  const strings: Buffer[] = [];
  let stringBytes = 0;
  const putString = (s: string): [number, number] => {
    const b = Buffer.from(s, 'utf8');
    strings.push(b);
    stringBytes += b.length;
    return [stringBytes - b.length, b.length];
  };
  const patternRef = new Uint32Array(patternIds.length * 4);
  patternIds.forEach((id, i) => {
    [patternRef[i * 4], patternRef[i * 4 + 1]] = putString(id);
  });
  const idsEnd = stringBytes;
  patternIds.forEach((id, i) => {
    [patternRef[i * 4 + 2], patternRef[i * 4 + 3]] = putString(JSON.stringify(state.patterns.get(id)));
  });
  const docId = new Uint32Array(docs.length * 2);
  docs.forEach((d, n) => {
    [docId[n * 2], docId[n * 2 + 1]] = putString(d.id);
  });

  const keyBytes = keys.map((k) => Buffer.from(k, 'utf8'));
  const buckets = Math.max(8, 2 ** Math.ceil(Math.log2(Math.max(1, keys.length) * 2)));
  const table = new Uint32Array(buckets);
  keys.forEach((k, i) => {
    let slot = hashTerm(k) & (buckets - 1);
    while (table[slot] !== 0) slot = (slot + 1) & (buckets - 1);
    table[slot] = i + 1;
  });
  const totalPostings = postDocs.reduce((s, p) => s + p.length, 0);
  const sizes: Record<Section, number> = {
    buckets: buckets * 4,
    termIdf: keys.length * 8,
    termKey: keys.length * 8,
    termPost: keys.length * 8,
    postDocs: totalPostings * 4,
    postCounts: totalPostings * 4,
    docNorm: docs.length * 8,
    docPattern: docs.length * 4,
    docId: docs.length * 8,
    patternRef: patternIds.length * 16,
    keys: keyBytes.reduce((s, b) => s + b.length, 0),
  };
  const at = {} as Record<Section, number>;
  let cursor = 0;
  for (const name of Object.keys(sizes) as Section[]) {
    at[name] = cursor;
    cursor = align8(cursor + sizes[name]);
  }
  const index = Buffer.alloc(cursor);
  const view = (name: Section, Kind: Float64ArrayConstructor | Uint32ArrayConstructor, length: number) =>
    new Kind(index.buffer, index.byteOffset + at[name], length);
  view('buckets', Uint32Array, buckets).set(table);
  view('termIdf', Float64Array, keys.length).set(idf);
  const termKey = view('termKey', Uint32Array, keys.length * 2);
  const termPost = view('termPost', Uint32Array, keys.length * 2);
  const pd = view('postDocs', Uint32Array, totalPostings);
  const pc = view('postCounts', Uint32Array, totalPostings);
  let p = 0;
  let k = 0;
  keys.forEach((_, i) => {
    termKey[i * 2] = k;
    termKey[i * 2 + 1] = keyBytes[i]!.length;
    keyBytes[i]!.copy(index, at.keys + k);
    k += keyBytes[i]!.length;
    termPost[i * 2] = p;
    termPost[i * 2 + 1] = postDocs[i]!.length;
    pd.set(postDocs[i]!, p);
    pc.set(postCounts[i]!, p);
    p += postDocs[i]!.length;
  });
  view('docNorm', Float64Array, docs.length).set(norms);
  view('docPattern', Uint32Array, docs.length).set(docs.map((d) => patternNo.get(d.group) ?? NONE));
  view('docId', Uint32Array, docs.length * 2).set(docId);
  view('patternRef', Uint32Array, patternIds.length * 4).set(patternRef);

  const header = (indexStart: number): Header => ({
    seq: position.seq,
    offsets: position.offsets,
    ...(position.anchor !== undefined ? { anchor: position.anchor } : {}),
    live,
    terms: keys.length,
    docs: docs.length,
    patterns: patternIds.length,
    postings: totalPostings,
    buckets,
    at,
    indexStart,
    stringsStart: indexStart + index.length,
    size: indexStart + index.length + stringBytes,
  });
  // The header holds offsets that depend on its own length: settle it (it grows at most a few bytes).
  let indexStart = 0;
  let text = '';
  for (;;) {
    text = JSON.stringify({ ...header(indexStart), idsEnd });
    const next = align8(12 + Buffer.byteLength(text));
    if (next === indexStart) break;
    indexStart = next;
  }
  const head = Buffer.alloc(indexStart);
  head.writeUInt32LE(MAGIC, 0);
  head.writeUInt32LE(FORMAT, 4);
  head.writeUInt32LE(Buffer.byteLength(text), 8);
  head.write(text, 12, 'utf8');
  return Buffer.concat([head, index, ...strings]);
}

/** Writes the index beside the log, atomically (a reader sees the old file or the new one). */
export function writeMatchIndex(dir: string, data: Buffer): void {
  const file = path.join(dir, MATCH_INDEX_FILE);
  const temp = `${file}.${process.pid}.${Date.now()}.tmp`;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(temp, data);
    renameSync(temp, file);
  } catch (error) {
    try {
      unlinkSync(temp);
    } catch {
      // not written
    }
    throw error;
  }
}

/** The recorded position of the index in `dir` (undefined: none, or not readable). */
export function matchIndexPosition(dir: string): LogPosition | undefined {
  const index = MatchIndex.open(dir, { tail: false });
  if (!index) return undefined;
  index.close();
  return {
    seq: index.header.seq,
    offsets: index.header.offsets,
    ...(index.header.anchor !== undefined ? { anchor: index.header.anchor } : {}),
  };
}

/** Event kinds that change what is indexed: after one of them only a replay is exact. */
const RESHAPING = new Set(['pattern_added', 'split', 'pruned', 'imported']);

function reshapes(event: ImmuneEvent): boolean {
  if (RESHAPING.has(event.type)) return true;
  if (event.type === 'occurrence') return event.variant !== undefined && 'text' in event.variant;
  return !KNOWN.has(event.type);
}

const KNOWN = new Set([
  'occurrence',
  'checked',
  'save',
  'saved',
  'feedback',
  'lesson',
  'guardrail',
  'overridden',
  'shared',
]);

/** Patterns an event names (it changes only these). */
function named(event: ImmuneEvent): string[] {
  const e = event as { id?: unknown; ids?: unknown; relaxed?: unknown };
  return [
    ...(typeof e.id === 'string' ? [e.id] : []),
    ...(Array.isArray(e.ids) ? (e.ids as string[]) : []),
    ...(Array.isArray(e.relaxed) ? (e.relaxed as string[]) : []),
  ];
}

/** A stored event as the log holds it. */
interface Stored {
  seq: number;
  event: ImmuneEvent;
}

/**
 * Reads a match index and, unless told not to, the log appended since. Only what a prompt needs is
 * read: the slots of its terms, their postings, the norms, and the patterns it matches.
 * `open` answers undefined when there is no usable index or it does not match the log (the caller
 * replays instead).
 */
export class MatchIndex {
  private readonly parsed = new Map<number, FailurePattern>();
  private norms: Float64Array | undefined;
  /** Patterns changed by events after the index (applied with the log's reducer). */
  private readonly overlay: ImmuneState = emptyImmuneState();
  private readonly position: LogPosition;

  private constructor(
    private readonly fd: number,
    readonly header: Header & { idsEnd: number },
  ) {
    this.position = { seq: header.seq, offsets: { ...header.offsets } };
  }

  /**
   * Opens the index in `dir` (the immune log's folder). With `tail` (default), it is brought up to
   * the log: undefined when it cannot be exactly (no index, damaged, or a reshaping event since).
   */
  static open(dir: string, options: { tail?: boolean } = {}): MatchIndex | undefined {
    let fd: number;
    try {
      fd = openSync(path.join(dir, MATCH_INDEX_FILE), 'r');
    } catch {
      return undefined;
    }
    let index: MatchIndex | undefined;
    try {
      const fixed = Buffer.alloc(12);
      if (readSync(fd, fixed, 0, 12, 0) !== 12) return undefined;
      if (fixed.readUInt32LE(0) !== MAGIC || fixed.readUInt32LE(4) !== FORMAT) return undefined;
      const headerBytes = Buffer.alloc(fixed.readUInt32LE(8));
      if (readSync(fd, headerBytes, 0, headerBytes.length, 12) !== headerBytes.length) return undefined;
      const header = JSON.parse(headerBytes.toString('utf8')) as Header & { idsEnd: number };
      if (fstatSync(fd).size !== header.size) return undefined;
      index = new MatchIndex(fd, header);
      if (options.tail !== false && !index.catchUp(dir)) index = undefined;
      return index;
    } catch {
      index = undefined;
      return undefined;
    } finally {
      if (!index) closeSync(fd);
    }
  }

  /** Where index and applied events together stand in the log. */
  get at(): LogPosition {
    return { seq: this.position.seq, offsets: { ...this.position.offsets } };
  }

  /** The patterns events after the index changed, as the log's reducer left them. */
  get changed(): ImmuneState {
    return this.overlay;
  }

  close(): void {
    closeSync(this.fd);
  }

  /** `length` bytes of the file at `position`, in memory of their own (typed views stay aligned). */
  private read(position: number, length: number): Buffer {
    const b = Buffer.from(new ArrayBuffer(length));
    if (length > 0 && readSync(this.fd, b, 0, length, position) !== length)
      throw new Error('the match index is shorter than it says');
    return b;
  }

  /** Entries `from`..`from + count` of a section of 32-bit numbers. */
  private u32(section: Section, from: number, count: number): Uint32Array {
    const b = this.read(this.header.indexStart + this.header.at[section] + from * 4, count * 4);
    return new Uint32Array(b.buffer, 0, count);
  }

  private f64(section: Section, from: number, count: number): Float64Array {
    const b = this.read(this.header.indexStart + this.header.at[section] + from * 8, count * 8);
    return new Float64Array(b.buffer, 0, count);
  }

  private readString(offset: number, length: number): string {
    return this.read(this.header.stringsStart + offset, length).toString('utf8');
  }

  /** Pattern `i` as stored, with what later events changed. */
  private patternAt(i: number): FailurePattern {
    let p = this.parsed.get(i);
    if (!p) {
      const [idOff, idLen, jsonOff, jsonLen] = this.u32('patternRef', i * 4, 4);
      const id = this.readString(idOff!, idLen!);
      p =
        this.overlay.patterns.get(id) ?? (JSON.parse(this.readString(jsonOff!, jsonLen!)) as FailurePattern);
      this.parsed.set(i, p);
    }
    return p;
  }
  /** Reads the log past the index; false when the index cannot be brought up to it exactly. */
  private catchUp(dir: string): boolean {
    let names: string[];
    try {
      names = readdirSync(dir).filter((n) => n.endsWith('.jsonl'));
    } catch {
      return false;
    }
    const recorded = this.position.offsets;
    // A segment the index read that is gone: the log was rewritten under it.
    if (Object.keys(recorded).some((name) => !names.includes(name))) return false;
    const events: Stored[] = [];
    for (const name of names) {
      const file = path.join(dir, name);
      const from = recorded[name] ?? 0;
      const { size } = statSync(file);
      if (size < from) return false;
      if (size === from) continue;
      const bytes = Buffer.alloc(size - from);
      const fd = openSync(file, 'r');
      try {
        readSync(fd, bytes, 0, bytes.length, from);
      } finally {
        closeSync(fd);
      }
      // Bytes after the last newline are an append in progress (or torn): not read yet.
      const end = bytes.lastIndexOf(0x0a);
      if (end < 0) continue;
      for (const line of bytes.subarray(0, end).toString('utf8').split('\n')) {
        if (!line) continue;
        try {
          events.push(JSON.parse(line) as Stored);
        } catch {
          return false; // the log's reader sets it aside; let it
        }
      }
      recorded[name] = from + end + 1;
    }
    return this.follow(events);
  }

  /**
   * Applies events the log holds after the index (in any order; earlier ones are skipped): false
   * when that cannot be exact (a gap, or an event that changes what is indexed), and the index
   * must not be used then.
   */
  follow(events: Stored[]): boolean {
    if (events.length === 0) return true;
    events.sort((a, b) => a.seq - b.seq);
    let seq = this.position.seq;
    for (const { seq: s, event } of events) {
      if (s <= seq) continue;
      // A gap: an append elsewhere is in flight; only the log's own reader waits for it.
      if (s !== seq + 1 || !event || reshapes(event)) return false;
      seq = s;
    }
    const ids = this.patternIds();
    for (const { seq: s, event } of events) {
      if (s <= this.position.seq) continue;
      for (const id of named(event)) {
        const i = ids.get(id);
        if (i !== undefined && !this.overlay.patterns.has(id)) {
          this.overlay.patterns.set(id, this.patternAt(i));
          this.parsed.delete(i); // re-read through the overlay
        }
      }
      applyImmuneEvent(this.overlay, event, s);
      this.position.seq = s;
    }
    return true;
  }

  /** Pattern id -> number (read once, only when events follow the index). */
  private patternIds(): Map<string, number> {
    const bytes = this.read(this.header.stringsStart, this.header.idsEnd);
    const r = this.u32('patternRef', 0, this.header.patterns * 4);
    const ids = new Map<string, number>();
    for (let i = 0; i < this.header.patterns; i++)
      ids.set(bytes.toString('utf8', r[i * 4], r[i * 4]! + r[i * 4 + 1]!), i);
    return ids;
  }

  /** The term's IDF and postings (where they start, how many), or undefined. */
  private lookup(term: string): { idf: number; start: number; count: number } | undefined {
    const mask = this.header.buckets - 1;
    const key = Buffer.from(term, 'utf8');
    for (let slot = hashTerm(term) & mask; ; slot = (slot + 1) & mask) {
      const entry = this.u32('buckets', slot, 1)[0]!;
      if (entry === 0) return undefined;
      const i = entry - 1;
      const [off, len] = this.u32('termKey', i * 2, 2);
      if (len !== key.length) continue;
      const stored = this.read(this.header.indexStart + this.header.at.keys + off!, len);
      if (!stored.equals(key)) continue;
      const [start, count] = this.u32('termPost', i * 2, 2);
      return { idf: this.f64('termIdf', i, 1)[0]!, start: start!, count: count! };
    }
  }

  /** The `k` documents most similar to `text`, as TfIdfIndex.query ranks them. */
  private query(text: string, k: number, minSimilarity: number): Array<{ n: number; similarity: number }> {
    const q = counts(terms(text));
    const live = this.header.live;
    if (q.size === 0 || live === 0) return [];
    const scores = new Float64Array(this.header.docs);
    const touched = new Int32Array(this.header.docs);
    let nTouched = 0;
    let qNorm = 0;
    for (const [t, c] of q) {
      const term = this.lookup(t);
      const w = term ? term.idf : idfOf(live, 0);
      qNorm += (c * w) ** 2;
      if (!term) continue;
      const qw = c * w * w;
      const docs = this.u32('postDocs', term.start, term.count);
      const tfs = this.u32('postCounts', term.start, term.count);
      for (let j = 0; j < docs.length; j++) {
        const n = docs[j]!;
        if (scores[n] === 0) touched[nTouched++] = n;
        scores[n]! += qw * tfs[j]!;
      }
    }
    if (nTouched === 0) return [];
    qNorm = Math.sqrt(qNorm);
    const norms = (this.norms ??= this.f64('docNorm', 0, this.header.docs));
    const best = new TopK<{ score: number; n: number }>(k);
    for (let i = 0; i < nTouched; i++) {
      const n = touched[i]!;
      const similarity = scores[n]! / (qNorm * (norms[n] || 1));
      if (similarity >= minSimilarity) best.add({ score: similarity, n });
    }
    return best.items.map((b) => ({ n: b.n, similarity: Math.min(1, b.score) }));
  }

  /** The patterns closest to a prompt by TF-IDF, best first (ImmuneSystem's ranking without embeddings). */
  rank(prompt: string, floor: number, k: number): Ranked[] {
    const candidates: Ranked[] = [];
    for (const m of this.query(prompt, 20, floor)) {
      const i = this.u32('docPattern', m.n, 1)[0]!;
      if (i === NONE) continue;
      const [off, len] = this.u32('docId', m.n * 2, 2);
      const doc = this.readString(off!, len!);
      candidates.push({
        p: this.patternAt(i),
        doc,
        similarity: m.similarity,
        tfidf: m.similarity,
        stage: 'tfidf',
      });
    }
    return topPatterns(candidates, floor, k);
  }
}
