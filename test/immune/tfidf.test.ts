/** The inverted index agrees with a brute-force TF-IDF cosine, while documents keep arriving. */
import { describe, expect, it } from 'vitest';
import { TfIdfIndex, terms } from '../../src/immune/tfidf.js';

function bruteForce(docs: Map<string, string>, query: string) {
  const tf = (text: string) => {
    const m = new Map<string, number>();
    for (const t of terms(text)) m.set(t, (m.get(t) ?? 0) + 1);
    return m;
  };
  const vectors = new Map([...docs].map(([id, d]) => [id, tf(d)]));
  const df = new Map<string, number>();
  for (const v of vectors.values()) for (const t of v.keys()) df.set(t, (df.get(t) ?? 0) + 1);
  const idf = (t: string) => Math.log((docs.size + 1) / ((df.get(t) ?? 0) + 1)) + 1;
  const weigh = (v: Map<string, number>) => new Map([...v].map(([t, c]) => [t, c * idf(t)]));
  const q = weigh(tf(query));
  const qn = Math.sqrt([...q.values()].reduce((s, x) => s + x * x, 0));
  return new Map(
    [...vectors].map(([id, v]) => {
      const d = weigh(v);
      const dn = Math.sqrt([...d.values()].reduce((s, x) => s + x * x, 0));
      let dot = 0;
      for (const [t, w] of q) dot += w * (d.get(t) ?? 0);
      return [id, dot / (qn * dn)];
    }),
  );
}

describe('TfIdfIndex', () => {
  it('ranks like brute-force cosine (within the norm refresh tolerance) as documents are added', () => {
    const words = [
      'json',
      'schema',
      'user',
      'profile',
      'delete',
      'orders',
      'table',
      'production',
      'report',
      'sales',
      'migrate',
      'database',
      'login',
      'page',
      'cache',
    ];
    let seed = 7;
    const random = () => (seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32;
    const sentence = () =>
      Array.from({ length: 6 }, () => words[Math.floor(random() * words.length)]).join(' ');
    const index = new TfIdfIndex();
    const docs = new Map<string, string>();
    for (let i = 0; i < 400; i++) {
      const d = sentence();
      docs.set(`d${i}`, d);
      index.add(`d${i}`, d);
      // Query often enough that documents added since the last norm refresh (every +10%) are hit.
      if (i >= 100 && i % 7 === 6) {
        const q = sentence();
        const truth = bruteForce(docs, q);
        const top = index.query(q, 5);
        const best = Math.max(...truth.values());
        expect(top[0]).toBeDefined();
        // The top hit is (one of) the true best, and every reported score is close to the truth.
        expect(truth.get(top[0]!.id)!).toBeGreaterThan(best - 0.05);
        for (const m of top) expect(Math.abs(m.similarity - truth.get(m.id)!)).toBeLessThan(0.06);
      }
    }
  });

  it('forgets removed documents and ignores stop words', () => {
    const index = new TfIdfIndex();
    index.add('a', 'delete the production orders table');
    index.add('b', 'write a poem about the sea');
    index.remove('a');
    expect(index.query('delete production orders').map((m) => m.id)).toEqual([]);
    expect(index.query('the and of a')).toEqual([]);
    expect(index.size).toBe(1);
  });

  it('counts a group of documents once in document frequencies (a pattern and its rewordings)', () => {
    const wordings = ['north', 'south', 'east', 'west'].map(
      (side) => `List the five largest towns in the ${side} of Scotland with their populations`,
    );
    const grouped = new TfIdfIndex();
    const apart = new TfIdfIndex();
    wordings.slice(0, 3).forEach((w, i) => {
      grouped.add(`p#${i}`, w, 'p');
      apart.add(`p#${i}`, w);
    });
    grouped.add('other', 'Write a poem about the sea');
    apart.add('other', 'Write a poem about the sea');
    const inGroup = grouped.query(wordings[3]!, 1)[0]!.similarity;
    const separate = apart.query(wordings[3]!, 1)[0]!.similarity;
    // Apart, the shared words look common (in 3 of 4 documents) and the one different word decides.
    expect(inGroup).toBeGreaterThan(0.75);
    expect(separate).toBeLessThan(inGroup - 0.1);
    expect(grouped.size).toBe(2);
    // Removing one wording keeps the group's words counted while another wording has them.
    grouped.remove('p#0');
    expect(grouped.query(wordings[3]!, 1)[0]!.similarity).toBeCloseTo(inGroup, 5);
    grouped.remove('p#1');
    grouped.remove('p#2');
    expect(grouped.size).toBe(1);
    expect(grouped.query(wordings[3]!)).toEqual([]);
  });
});
