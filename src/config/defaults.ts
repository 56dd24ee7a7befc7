/** Built-in defaults the variables fall back to (shown in the README through the variable table). */

/** Models used when a call names none (override with OPENAI_MODEL, GEMINI_MODEL, ANTHROPIC_MODEL). */
export const DEFAULT_MODELS = {
  openai: 'gpt-4o-mini',
  gemini: 'gemini-2.5-flash',
  anthropic: 'claude-sonnet-4-6',
} as const;

/** Programs run_with_error_capture and scheduled jobs may start when TASK_ORCHESTRATOR_COMMANDS is unset. */
export const DEFAULT_COMMANDS: readonly string[] = [
  'npm',
  'pnpm',
  'yarn',
  'make',
  'tsc',
  'eslint',
  'prettier',
  'vitest',
  'jest',
  'pytest',
  'cargo',
  'go',
  'git',
  'ls',
  'cat',
  'echo',
  'grep',
  'wc',
  'head',
  'tail',
  'true',
  'false',
];

/** Programs a task's command gate may run when TASK_ORCHESTRATOR_GATE_COMMANDS is unset. */
export const DEFAULT_GATE_COMMANDS: readonly string[] = [
  'npm',
  'pnpm',
  'yarn',
  'make',
  'pytest',
  'go',
  'cargo',
];

/** Variables every program the server runs gets from the server's environment, when set. */
export const CHILD_ENV_NAMES: readonly string[] = [
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'LANG',
  'LC_ALL',
  'LC_CTYPE',
  'LC_MESSAGES',
  'TZ',
  'TMPDIR',
  'TERM',
  'CI',
  'NO_COLOR',
  'FORCE_COLOR',
];

/** Model graders TASK_ORCHESTRATOR_JUDGE_GRADERS may name. */
export const JUDGE_CRITERIA = [
  'relevance',
  'completeness',
  'accuracy',
  'format',
  'code_quality',
  'safety',
  'performance',
] as const;
export type JudgeCriterionName = (typeof JUDGE_CRITERIA)[number];
