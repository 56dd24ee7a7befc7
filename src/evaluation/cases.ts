/**
 * Cases: the same prompt (normalised) on the same model, graded again and again. Each keeps its
 * recent outcomes, so a prompt that passes and fails alternately is seen as flaky (the grade says
 * as much about chance as about the prompt) and the failure memory learns from it only once it
 * fails consistently. Stored as one document shared by processes, bounded in size.
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import { isoTime } from '../core/clock.js';
import type { DocumentStore } from '../storage/documentStore.js';

/** Outcomes kept per case, newest last ('P' pass, 'F' fail). */
const WINDOW = 6;
/** A case whose last this many outcomes all failed fails consistently. */
const CONSISTENT_FAILURES = 3;
/** Cases kept; the least recently graded go first. */
const MAX_CASES = 5_000;

export interface CaseDoc {
  cases: Record<string, { outcomes: string; model: string; prompt: string; updated_at: string }>;
}

export const EMPTY_CASES: CaseDoc = { cases: {} };

export interface CaseStanding {
  key: string;
  runs: number;
  passes: number;
  pass_rate: number;
  /** Passed and failed within the window, and not failing consistently now. */
  flaky: boolean;
  /** May the failure memory learn from this failure: never passed in the window, or failing consistently. */
  learnable: boolean;
}

/** Lower-case, whitespace collapsed, digits kept: "Fix  the bug\n" and "fix the bug" are one case. */
function normalisePrompt(prompt: string): string {
  return prompt.toLowerCase().replace(/\s+/g, ' ').trim().slice(0, 4000);
}

function caseKey(prompt: string, model: string): string {
  return createHash('sha256')
    .update(`${model}\n${normalisePrompt(prompt)}`)
    .digest('hex')
    .slice(0, 24);
}

function standingOf(key: string, outcomes: string): CaseStanding {
  const runs = outcomes.length;
  const passes = [...outcomes].filter((o) => o === 'P').length;
  const consistent =
    outcomes.length >= CONSISTENT_FAILURES &&
    outcomes.slice(-CONSISTENT_FAILURES) === 'F'.repeat(CONSISTENT_FAILURES);
  const mixed = passes > 0 && passes < runs;
  return {
    key,
    runs,
    passes,
    pass_rate: runs ? Number((passes / runs).toFixed(4)) : 0,
    flaky: mixed && !consistent,
    learnable: passes === 0 || consistent,
  };
}

export class CaseBook {
  constructor(
    private readonly doc: DocumentStore<CaseDoc>,
    private readonly clock: Clock,
  ) {}

  /** Adds an outcome to the case of (prompt, model) and returns its standing after it. */
  async note(prompt: string, model: string, pass: boolean): Promise<CaseStanding> {
    const key = caseKey(prompt, model);
    const at = isoTime(this.clock);
    const outcomes = await this.doc.update((d) => {
      const c = d.cases[key] ?? {
        outcomes: '',
        model,
        prompt: normalisePrompt(prompt).slice(0, 200),
        updated_at: at,
      };
      c.outcomes = `${c.outcomes}${pass ? 'P' : 'F'}`.slice(-WINDOW);
      c.updated_at = at;
      d.cases[key] = c;
      const keys = Object.keys(d.cases);
      if (keys.length > MAX_CASES) {
        const oldest = keys.sort((a, b) => d.cases[a]!.updated_at.localeCompare(d.cases[b]!.updated_at));
        for (const k of oldest.slice(0, keys.length - MAX_CASES)) delete d.cases[k];
      }
      return c.outcomes;
    });
    return standingOf(key, outcomes);
  }

  /** The standing now of each case key (unknown keys are left out). */
  async standings(keys: readonly string[]): Promise<Map<string, CaseStanding>> {
    return this.doc.read(
      (d) =>
        new Map(
          keys.flatMap((k) => {
            const c = d.cases[k];
            return c ? [[k, standingOf(k, c.outcomes)] as const] : [];
          }),
        ),
    );
  }

  /**
   * Recent outcomes of this prompt on every model (the cases whose stored prompt is this one):
   * a prompt that passed recently is flaky, not hopeless, and is never blocked.
   */
  async promptOutcomes(prompt: string): Promise<{ runs: number; passes: number }> {
    const wanted = normalisePrompt(prompt).slice(0, 200);
    const full = normalisePrompt(prompt);
    return this.doc.read((d) => {
      let runs = 0;
      let passes = 0;
      for (const [key, c] of Object.entries(d.cases)) {
        // The stored prompt is cut at 200 characters: the key (model and whole prompt) decides.
        if (c.prompt !== wanted || caseKey(full, c.model) !== key) continue;
        runs += c.outcomes.length;
        passes += [...c.outcomes].filter((o) => o === 'P').length;
      }
      return { runs, passes };
    });
  }

  /** The keys of every case that is flaky now. */
  async flakyKeys(): Promise<Set<string>> {
    return this.doc.read(
      (d) =>
        new Set(Object.entries(d.cases).flatMap(([k, c]) => (standingOf(k, c.outcomes).flaky ? [k] : []))),
    );
  }

  /** The flaky cases now, most recently graded first. */
  async flaky(
    limit = 20,
  ): Promise<Array<CaseStanding & { model: string; prompt: string; updated_at: string }>> {
    return this.doc.read((d) =>
      Object.entries(d.cases)
        .map(([key, c]) => ({
          ...standingOf(key, c.outcomes),
          model: c.model,
          prompt: c.prompt,
          updated_at: c.updated_at,
        }))
        .filter((c) => c.flaky)
        .sort((a, b) => b.updated_at.localeCompare(a.updated_at))
        .slice(0, limit),
    );
  }
}
