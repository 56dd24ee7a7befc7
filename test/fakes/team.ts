/**
 * A scripted team behind the fake LLM server: interview answers (good or limited), a leader that
 * plans, reviews and synthesises, and workers whose answers a test decides per model and prompt.
 */
import type { Step, Wire } from './fakeLlmServer.js';

/** A correct answer to the interview's TypeScript question. */
export const MEDIAN = [
  'export function median(values: number[]): number | undefined {',
  '  if (values.length === 0) return undefined;',
  '  const s = [...values].sort((a, b) => a - b);',
  '  const m = Math.floor(s.length / 2);',
  '  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;',
  '}',
].join('\n');

/** The answer to an interview question; a limited worker writes TypeScript that does not compile. */
export function interviewAnswer(prompt: string, limited = false): string | undefined {
  if (prompt.includes('exactly the word BANANA')) return 'BANANA';
  if (prompt.includes('"city"') && prompt.includes('"population"'))
    return '{"city": "Paris", "population": 2148000}';
  if (prompt.startsWith('Summarise this notice'))
    return 'The library closes from 3 March to 28 April; return books at the Hill Street branch, open until 9 pm.';
  if (prompt.startsWith('What does f(7) return?')) return '13';
  if (prompt.includes('export function median'))
    return limited ? 'function median(v) { return v[0] }' : '```ts\n' + MEDIAN + '\n```';
  if (prompt.includes('capital of Australia')) return '{"answer": "Canberra", "confidence": 0.97}';
  if (prompt.includes('ACME Corp')) return '{"answer": "Unknown", "confidence": 0.05}';
  return undefined;
}

export const isWorkerCall = (prompt: string) => /^Task t_[0-9a-z]+ of the run /.test(prompt);
export const isReview = (prompt: string) => prompt.startsWith("Review a worker's answer");
export const isSynthesis = (prompt: string) => prompt.startsWith('Synthesise the results');
export const isDigest = (prompt: string) => /^Summarise the result of task t_/.test(prompt);
export const isPlan = (prompt: string) =>
  prompt.startsWith('Decompose the goal') || prompt.startsWith('Split the task');

/** The task id a worker call is about. */
export function taskOf(prompt: string): string | undefined {
  return /^Task (t_[0-9a-z]+) of the run /.exec(prompt)?.[1];
}

/** The title of the task a worker call is about (from the quoted task). */
export function titleOf(prompt: string): string | undefined {
  return /\nTitle: ([^\n]+)/.exec(prompt)?.[1];
}

export interface TeamScript {
  /** Models whose interview shows them limited (no compiling TypeScript). */
  limited?: readonly string[];
  plan?: (prompt: string) => string;
  worker?: (prompt: string, model: string) => Step;
  review?: (prompt: string) => string;
  synthesis?: (prompt: string) => string;
  /** The leader's summary of a long result for its dependents. */
  digest?: (prompt: string) => string;
}

export function team(script: TeamScript): (prompt: string, wire: Wire, model: string) => Step {
  return (prompt, _wire, model) => {
    const interview = interviewAnswer(prompt, script.limited?.includes(model) ?? false);
    if (interview !== undefined) return { text: interview };
    if (isPlan(prompt)) return { text: script.plan?.(prompt) ?? '{"tasks": []}' };
    if (isReview(prompt))
      return { text: script.review?.(prompt) ?? '{"approve": true, "reasons": ["meets the criteria"]}' };
    if (isDigest(prompt)) return { text: script.digest?.(prompt) ?? 'Summary: the result, in short.' };
    if (isSynthesis(prompt))
      return { text: script.synthesis?.(prompt) ?? 'Synthesis: every part is done and fits together.' };
    if (isWorkerCall(prompt))
      return script.worker?.(prompt, model) ?? { text: `Done: ${titleOf(prompt) ?? 'the task'}.` };
    return {};
  };
}
