/**
 * Worker onboarding: a model is interviewed with a fixed battery graded deterministically
 * (instruction following, structured JSON, summarisation, code understanding, TypeScript code
 * generation checked by the compiler, confidence calibration) and gets a profile: active (all
 * passed), limited (to the kinds of work it passed) or blocked, with reasons. Every graded run
 * afterwards moves its trust score; a model whose outputs keep failing is demoted to blocked by
 * itself, and a new interview resets it. model "auto" consults the profiles.
 */
import type { Clock } from '../core/clock.js';
import { isoTime } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import type { DocumentStore } from '../storage/documentStore.js';
import type { Pricing } from '../cost/pricing.js';
import { validateCode } from '../code/codeValidation.js';
import type { ProviderName } from './providers/types.js';
import type { SpawnPipeline } from './spawn.js';

const SKILLS = [
  'instruction_following',
  'structured_json',
  'summarisation',
  'code_understanding',
  'typescript_codegen',
  'calibration',
] as const;
export type Skill = (typeof SKILLS)[number];

export interface SkillResult {
  pass: boolean;
  detail: string;
}

export interface WorkerProfile {
  provider: string;
  model: string;
  status: 'active' | 'limited' | 'blocked';
  reasons: string[];
  skills: Record<Skill, SkillResult>;
  interviewed_at: string;
  /** Share of recent graded runs that passed (exponentially weighted); starts at 1. */
  trust: number;
  runs_since_interview: number;
  failures_since_interview: number;
  demoted_at?: string;
  /** What the interview's calls cost. */
  interview_cost_usd?: number;
}

/** Calls an interview makes (calibration asks twice), each answered in at most 800 tokens. */
const INTERVIEW_CALLS = SKILLS.length + 1;
/** The longest interview prompt is under 2,000 characters. */
const INTERVIEW_PROMPT_CHARS = 2000;

/** What interviewing a model may cost at most (list prices; an unknown model at the fallback price). */
export function interviewWorstCost(pricing: Pricing, provider: string, model: string): number {
  return INTERVIEW_CALLS * pricing.cost(provider, model, Math.ceil(INTERVIEW_PROMPT_CHARS / 3) + 16, 800);
}

export interface WorkerDoc {
  profiles: Record<string, WorkerProfile>;
}

export const EMPTY_WORKERS: WorkerDoc = { profiles: {} };

/** Trust below this after DEMOTE_MIN_RUNS graded runs blocks the model until it is re-interviewed. */
const DEMOTE_BELOW = 0.4;
const DEMOTE_MIN_RUNS = 8;
const TRUST_WEIGHT = 0.15;

function stripFence(text: string): string {
  const m = /```(?:\w+)?\s*\n([\s\S]*?)```/.exec(text);
  return (m ? m[1]! : text).trim();
}

function json(text: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(stripFence(text)) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const ARTICLE =
  'The Riverside library will close for renovation from 3 March to 28 April. During the closure, ' +
  'books can be returned at the Hill Street branch, which extends its opening hours until 9 pm. ' +
  'The renovated building will add a children’s reading room and twelve study desks.';

type Ask = (prompt: string) => Promise<string>;

/** The battery: each skill asks one or two questions and checks the answers deterministically. */
const BATTERY: Record<Skill, (ask: Ask) => Promise<SkillResult>> = {
  async instruction_following(ask) {
    const a = (await ask('Reply with exactly the word BANANA in capital letters and nothing else.')).trim();
    return { pass: a === 'BANANA', detail: `answered ${JSON.stringify(a.slice(0, 40))}` };
  },
  async structured_json(ask) {
    const a = await ask(
      'Return a JSON object with exactly two keys: "city" (string) and "population" (integer, approximate) for the capital of France. Reply with the JSON only.',
    );
    const o = json(a);
    const ok =
      !!o &&
      Object.keys(o).sort().join(',') === 'city,population' &&
      typeof o.city === 'string' &&
      /paris/i.test(o.city) &&
      Number.isInteger(o.population) &&
      (o.population as number) > 1_000_000;
    return { pass: ok, detail: o ? `keys ${Object.keys(o).join(', ')}` : 'not a JSON object' };
  },
  async summarisation(ask) {
    const a = await ask(
      `Summarise this notice in at most 25 words. Mention the closure dates and where to return books.\n\n${ARTICLE}`,
    );
    const words = a.trim().split(/\s+/).filter(Boolean).length;
    const ok = words > 0 && words <= 25 && /march/i.test(a) && /april/i.test(a) && /hill street/i.test(a);
    return {
      pass: ok,
      detail: `${words} words${ok ? '' : '; must mention March, April and Hill Street within 25 words'}`,
    };
  },
  async code_understanding(ask) {
    const a = await ask(
      'What does f(7) return? Reply with the number only.\n\nfunction f(n) { let a = 0, b = 1; for (let i = 0; i < n; i++) { [a, b] = [b, a + b]; } return a; }',
    );
    return {
      pass: a.trim().replace(/\.$/, '') === '13',
      detail: `answered ${JSON.stringify(a.trim().slice(0, 40))} (expected 13)`,
    };
  },
  async typescript_codegen(ask) {
    const a = await ask(
      'Write a TypeScript function `export function median(values: number[]): number | undefined` that returns the median (undefined for an empty array) without changing the input. Reply with the code only.',
    );
    const code = stripFence(a);
    const v = await validateCode(code, 'typescript');
    const named = /\bmedian\b/.test(code) && /:\s*number\s*\|\s*undefined|undefined\s*\|\s*number/.test(code);
    return {
      pass: v.valid && named,
      detail: v.valid
        ? named
          ? 'compiles with the asked signature'
          : 'compiles but not the asked signature'
        : `does not compile: ${v.issues[0]?.message ?? ''}`,
    };
  },
  async calibration(ask) {
    const known = json(
      await ask(
        'What is the capital of Australia? Reply with JSON only: {"answer": string, "confidence": number from 0 to 1}.',
      ),
    );
    const unknowable = json(
      await ask(
        'What will the exact closing price of ACME Corp stock be on the last trading day of next month? Reply with JSON only: {"answer": string, "confidence": number from 0 to 1}.',
      ),
    );
    const c1 = Number(known?.confidence);
    const c2 = Number(unknowable?.confidence);
    const ok =
      typeof known?.answer === 'string' &&
      /canberra/i.test(known.answer) &&
      c1 >= 0.7 &&
      c1 <= 1 &&
      c2 >= 0 &&
      c2 <= 0.5;
    return {
      pass: ok,
      detail: `confidence ${Number.isFinite(c1) ? c1 : '?'} on a known fact, ${Number.isFinite(c2) ? c2 : '?'} on an unknowable one`,
    };
  },
};

/** What a kind of work needs a limited model to have passed. */
function skillsFor(needs: { archetype?: string | undefined; structuredOutput: boolean }): Skill[] {
  const out: Skill[] = ['instruction_following'];
  if (needs.structuredOutput) out.push('structured_json');
  if (['implementer', 'tester', 'debugger', 'reviewer', 'architect'].includes(needs.archetype ?? ''))
    out.push('code_understanding');
  if (['implementer', 'tester'].includes(needs.archetype ?? '')) out.push('typescript_codegen');
  if (['documenter', 'researcher'].includes(needs.archetype ?? '')) out.push('summarisation');
  return out;
}

export class WorkerRegistry {
  constructor(
    private readonly doc: DocumentStore<WorkerDoc>,
    private readonly clock: Clock,
  ) {}

  /**
   * Interviews a model through the spawn pipeline (budget, breakers, retries apply; no fallback).
   * @throws AppError from the provider when it cannot be reached at all.
   */
  async interview(spawn: SpawnPipeline, provider: ProviderName, model: string): Promise<WorkerProfile> {
    let cost = 0;
    const ask: Ask = async (prompt) => {
      const r = await spawn.run({
        prompt,
        provider,
        model,
        fallback: false,
        temperature: 0,
        maxTokens: 800,
        operation: 'worker_interview',
      });
      if (!r.ok) throw r.error;
      cost += r.cost_usd;
      return r.output;
    };
    const skills = {} as Record<Skill, SkillResult>;
    for (const skill of SKILLS) skills[skill] = await BATTERY[skill](ask);
    const passed = SKILLS.filter((s) => skills[s].pass);
    const failed = SKILLS.filter((s) => !skills[s].pass);
    const status: WorkerProfile['status'] =
      failed.length === 0
        ? 'active'
        : !skills.instruction_following.pass || passed.length < 3
          ? 'blocked'
          : 'limited';
    const reasons =
      status === 'active'
        ? ['passed every skill']
        : [
            ...failed.map((s) => `failed ${s}: ${skills[s].detail}`),
            status === 'limited'
              ? `limited to work needing only: ${passed.join(', ')}`
              : 'blocked: fails instruction following or most skills',
          ];
    const profile: WorkerProfile = {
      provider,
      model,
      status,
      reasons,
      skills,
      interviewed_at: isoTime(this.clock),
      trust: 1,
      runs_since_interview: 0,
      failures_since_interview: 0,
      interview_cost_usd: Number(cost.toFixed(6)),
    };
    await this.doc.update((d) => {
      d.profiles[`${provider}/${model}`] = profile;
    });
    return profile;
  }

  async list(): Promise<WorkerProfile[]> {
    return this.doc.read((d) =>
      Object.values(structuredClone(d.profiles)).sort((a, b) =>
        `${a.provider}/${a.model}`.localeCompare(`${b.provider}/${b.model}`),
      ),
    );
  }

  /** @throws AppError NOT_FOUND for a model never interviewed. */
  async profile(provider: string, model: string): Promise<WorkerProfile> {
    const p = await this.doc.read((d) => structuredClone(d.profiles[`${provider}/${model}`]));
    if (!p)
      throw new AppError('NOT_FOUND', `${provider}/${model} has not been interviewed`, {
        hint: 'Run worker_interview for it first',
      });
    return p;
  }

  /** Snapshot for model "auto": interviewed models only. */
  async snapshot(): Promise<Record<string, Pick<WorkerProfile, 'status' | 'skills'>>> {
    return this.doc.read((d) => structuredClone(d.profiles));
  }

  /** A graded run of an interviewed model: moves its trust; demotes it when it keeps failing. */
  async noteOutcome(provider: string, model: string, pass: boolean): Promise<void> {
    const key = `${provider}/${model}`;
    // Most runs are of models never interviewed: no write for them.
    if (!(await this.doc.read((d) => key in d.profiles))) return;
    await this.doc.update((d) => {
      const p = d.profiles[key];
      if (!p) return;
      p.runs_since_interview++;
      if (!pass) p.failures_since_interview++;
      p.trust = Number((p.trust * (1 - TRUST_WEIGHT) + (pass ? 1 : 0) * TRUST_WEIGHT).toFixed(4));
      if (p.status !== 'blocked' && p.runs_since_interview >= DEMOTE_MIN_RUNS && p.trust < DEMOTE_BELOW) {
        p.status = 'blocked';
        p.demoted_at = isoTime(this.clock);
        p.reasons = [
          `demoted: trust ${p.trust} after ${p.failures_since_interview} failing of ${p.runs_since_interview} graded runs; re-interview to reinstate`,
          ...p.reasons,
        ];
      }
    });
  }
}

/** Whether model "auto" may pick a model for this kind of work, and why not. */
export function eligible(
  profiles: Record<string, Pick<WorkerProfile, 'status' | 'skills'>>,
  provider: string,
  model: string,
  needs: { archetype?: string | undefined; structuredOutput: boolean },
): { ok: boolean; reason?: string } {
  const p = profiles[`${provider}/${model}`];
  if (!p) return { ok: true };
  if (p.status === 'blocked') return { ok: false, reason: `${provider}/${model} is blocked` };
  if (p.status === 'limited') {
    const missing = skillsFor(needs).filter((s) => !p.skills[s]?.pass);
    if (missing.length)
      return { ok: false, reason: `${provider}/${model} is limited (failed ${missing.join(', ')})` };
  }
  return { ok: true };
}
