/** Built-in defaults the variables fall back to (shown in the README through the variable table). */

/**
 * Every provider the server calls, with what configures it: the one list (names in tool inputs,
 * hints, doctor, healing_status come from here).
 */
export const PROVIDERS = [
  { name: 'openai', configuredBy: 'OPENAI_API_KEY (+ OPENAI_BASE_URL)' },
  { name: 'gemini', configuredBy: 'GEMINI_API_KEY or GOOGLE_API_KEY' },
  { name: 'anthropic', configuredBy: 'ANTHROPIC_API_KEY' },
  { name: 'claude-code', configuredBy: 'the claude CLI on PATH (TASK_ORCHESTRATOR_CLAUDE_CLI)' },
] as const;

export type ProviderName = (typeof PROVIDERS)[number]['name'];

/** The provider names, for schemas (`z.enum(PROVIDER_NAMES)`). */
export const PROVIDER_NAMES = PROVIDERS.map((p) => p.name) as [ProviderName, ...ProviderName[]];

/** What configures a provider, for hints. */
export const configuredBy = (name: ProviderName): string =>
  PROVIDERS.find((p) => p.name === name)?.configuredBy ?? name;

/** Models used when a call names none (override with OPENAI_MODEL, GEMINI_MODEL, ANTHROPIC_MODEL). */
export const DEFAULT_MODELS = {
  openai: 'gpt-4o-mini',
  gemini: 'gemini-2.5-flash',
  anthropic: 'claude-sonnet-4-6',
} as const;

/** Embedding models used when TASK_ORCHESTRATOR_EMBEDDING_MODEL names only the provider. */
export const DEFAULT_EMBEDDING_MODELS = {
  openai: 'text-embedding-3-small',
  gemini: 'gemini-embedding-001',
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
