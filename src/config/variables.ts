/**
 * Every environment variable the server reads: one row each, with its parser (which holds the
 * default and the rule), the default as shown to people when it is not simply the parsed value,
 * and one line of documentation. The typed config (config.ts), `doctor` and the README's
 * environment section are all derived from this table.
 */
import {
  CHILD_ENV_NAMES,
  DEFAULT_COMMANDS,
  DEFAULT_EMBEDDING_MODELS,
  DEFAULT_GATE_COMMANDS,
  DEFAULT_MODELS,
  JUDGE_CRITERIA,
} from './defaults.js';
import type { JudgeCriterionName } from './defaults.js';
import type { LogLevel } from '../core/logger.js';
import {
  custom,
  databaseUrl,
  fraction,
  int,
  list,
  matching,
  names,
  oneOf,
  regexes,
  secret,
  text,
  url,
} from './parsers.js';
import { ConfigIssue } from './parsers.js';
import type { Parser, Raw } from './parsers.js';

export interface Variable<T> {
  parse: Parser<T>;
  /** One line for the README and `doctor`. */
  doc: string;
  /** The default as people read it, when the parsed default does not say it (e.g. "<cwd>/.task-orchestrator"). */
  shown?: string;
  /** Its value is a credential: `doctor` shows only that it is set. */
  secret?: boolean;
}

const row = <T>(
  parse: Parser<T>,
  doc: string,
  more: Omit<Variable<T>, 'parse' | 'doc'> = {},
): Variable<T> => ({
  parse,
  doc,
  ...more,
});

const BARE_PROGRAM = /^[A-Za-z0-9._-]+$/;

export const VARIABLES = {
  TASK_ORCHESTRATOR_HOME: row(text(), 'State folder (tasks, logs, audit). Several servers may share one.', {
    shown: '<cwd>/.task-orchestrator',
  }),
  TASK_ORCHESTRATOR_TOOLS: row(
    custom((v, fail): 'core' | 'all' | readonly string[] => {
      const raw = (v ?? '').trim().toLowerCase();
      if (raw === '' || raw === 'core') return 'core';
      if (raw === 'all') return 'all';
      const items = list(raw);
      if (items.length === 0 || items.some((n) => !/^[a-z][a-z0-9_-]*$/.test(n)))
        fail(`$NAME must be "core", "all" or a comma list of category names, got "${v}"`);
      return items;
    }),
    'Categories exposed at start: `core`, `all`, or a comma list (e.g. `core,agent`).',
  ),
  TASK_ORCHESTRATOR_LOG_LEVEL: row(
    custom((v, fail): LogLevel => {
      const level = (v ?? 'info').trim().toLowerCase();
      if (level === 'debug' || level === 'info' || level === 'warn' || level === 'error') return level;
      return fail(`$NAME must be debug, info, warn or error, got "${v}"`);
    }),
    'stderr log level: debug, info, warn, error.',
  ),
  TASK_ORCHESTRATOR_CONTEXT_BUDGET: row(
    int(200_000, 1_000, 10_000_000),
    'Client context window (tokens) the context tracker budgets against.',
  ),
  TASK_ORCHESTRATOR_CONTEXT_RESERVE: row(
    fraction(0.1, false),
    'Fraction of the budget kept free; below it results turn compact.',
  ),
  TASK_ORCHESTRATOR_LIST_CHANGED_WAIT_MS: row(
    int(2_000, 0, 30_000),
    '`request_tool` waits up to this long for the client to re-fetch tools/list.',
  ),
  TASK_ORCHESTRATOR_MAX_RESULT_TOKENS: row(
    int(20_000, 500, 100_000),
    'Largest tool result (estimated tokens) before explicit truncation.',
  ),
  TASK_ORCHESTRATOR_GATE_COMMANDS: row(
    names(BARE_PROGRAM, 'bare program names', DEFAULT_GATE_COMMANDS),
    'Programs a task command gate may run (no shell; npm/pnpm/yarn only their test/run subcommands). Gates run in the folder the server started in.',
  ),
  TASK_ORCHESTRATOR_RETRY_BASE_MS: row(
    int(2_000, 1, 60_000),
    'Provider retries: first delay, doubling with jitter, capped at 60 s; Retry-After is honoured.',
  ),
  TASK_ORCHESTRATOR_RETRY_MAX: row(int(5, 0, 10), 'Provider retries after the first attempt.'),
  TASK_ORCHESTRATOR_BREAKER_RESET_MS: row(
    int(30_000, 100, 3_600_000),
    'A provider+model circuit opens after 3 failures in a minute and allows one trial call after this long.',
  ),
  TASK_ORCHESTRATOR_JUDGE_GRADERS: row(
    custom((v, fail): 'auto' | 'off' | readonly JudgeCriterionName[] => {
      const raw = (v ?? '').trim().toLowerCase();
      if (raw === '' || raw === 'auto') return 'auto';
      if (raw === 'off') return 'off';
      const items = list(raw);
      const bad = items.filter((n) => !(JUDGE_CRITERIA as readonly string[]).includes(n));
      if (bad.length || items.length === 0)
        fail(
          `$NAME must be auto, off or a comma list of judge criteria; unknown graders ${bad.join(', ')}; known: ${JUDGE_CRITERIA.join(', ')}`,
        );
      return items as JudgeCriterionName[];
    }),
    `LLM-as-judge graders every spawn gets when a provider is configured. \`auto\`: relevance, plus format when an output schema applies and code_quality when the answer is code; \`off\`: code graders only; or a comma list of ${JUDGE_CRITERIA.join(', ')}. The judge runs on a cheap model (pricing.json's judge_tier) other than the one judged when another is configured; its cost is reserved in the same budget.`,
  ),
  TASK_ORCHESTRATOR_JUDGE_MODEL: row(
    matching(
      /^(openai|gemini|anthropic|claude-code)(\/.+)?$/,
      'provider or provider/model, e.g. openai/gpt-4o-mini',
    ),
    'The judge, as provider or provider/model.',
    { shown: 'first provider' },
  ),
  TASK_ORCHESTRATOR_REDACT_PATTERNS: row(
    regexes(),
    'Extra regexes (separated by `;;`) scrubbed from every sink, besides configured keys and common credential shapes.',
  ),
  LANGFUSE_PUBLIC_KEY: row(
    text(),
    'Langfuse tracing (a trace per agent run with its generation and grader scores); off unless both keys are set.',
    { secret: true },
  ),
  LANGFUSE_SECRET_KEY: row(text(), 'Langfuse secret key.', { secret: true }),
  LANGFUSE_HOST: row(url(), 'Langfuse server.', { shown: 'https://cloud.langfuse.com' }),
  TASK_ORCHESTRATOR_CLAUDE_CLI: row(
    text(),
    "Keyless provider: `auto` uses the `claude` CLI found on PATH (Claude Code's own login and billing), `off` disables it, or give its path. It comes last in the fallback order.",
    { shown: 'auto' },
  ),
  PATH: row(
    text(),
    'Searched for the `claude` CLI when TASK_ORCHESTRATOR_CLAUDE_CLI is `auto`; passed to the programs the server runs.',
  ),
  GEMINI_API_KEY: row(text(), 'Gemini key (GOOGLE_API_KEY works too).', { secret: true }),
  GOOGLE_API_KEY: row(text(), 'Gemini key, when GEMINI_API_KEY is unset.', { secret: true }),
  GEMINI_BASE_URL: row(url(), 'Gemini endpoint override.'),
  GEMINI_MODEL: row(text(), 'Gemini model used when a call names none.', { shown: DEFAULT_MODELS.gemini }),
  OPENAI_API_KEY: row(text(), 'OpenAI key.', { secret: true }),
  OPENAI_BASE_URL: row(
    url(),
    'Any OpenAI-compatible server (Ollama, vLLM, LM Studio, LiteLLM) instead of OpenAI.',
  ),
  OPENAI_MODEL: row(text(), 'OpenAI model used when a call names none.', { shown: DEFAULT_MODELS.openai }),
  ANTHROPIC_API_KEY: row(text(), 'Anthropic key.', { secret: true }),
  ANTHROPIC_BASE_URL: row(url(), 'Anthropic endpoint override.'),
  ANTHROPIC_MODEL: row(text(), 'Anthropic model used when a call names none.', {
    shown: DEFAULT_MODELS.anthropic,
  }),
  TASK_ORCHESTRATOR_RUN_AUTO_RESUME: row(
    oneOf(['on', 'off'], 'on'),
    'A server takes over the unfinished supervisor runs (agents mode) of its state folder whose process ended or whose lease ran out, at start and every 10 s; `off`: only tasks_run {resume} does.',
  ),
  TASK_ORCHESTRATOR_RUN_INTERVIEW: row(
    oneOf(['on', 'off'], 'off'),
    '`on`: a supervisor run that finds no onboarded worker interviews the configured models first (within its budget), as tasks_run {interview: true} does.',
  ),
  TASK_ORCHESTRATOR_IMMUNE: row(
    oneOf(['on', 'off'], 'on'),
    '`off`: spawns skip the failure memory (no check, no guardrails, nothing learned); the immune tools still answer. For measuring what the memory does (A/B), not for everyday use.',
  ),
  TASK_ORCHESTRATOR_IMMUNE_BLOCK_AFTER: row(
    int(3, 1, 1_000),
    'Escalation: a remembered failure first adds its guardrail; it escalates (and then blocks its own problem, see TASK_ORCHESTRATOR_IMMUNE_BLOCK_RISK) when it fails again although its guardrail was applied, or after this many failures; a passing guarded attempt or an override relaxes it.',
  ),
  TASK_ORCHESTRATOR_IMMUNE_BLOCK_RISK: row(
    fraction(0.9, true, ' (1 = block only certain repeats)'),
    "Risk (0-1) at or above which an escalated pattern's match blocks a spawn before any provider call. Risk is the match's similarity (x0.85 while a pattern only guards, less as it fades): at 0.9 an escalated pattern blocks the wordings that failed and near-copies; lower it (e.g. 0.7) to block its rewordings too.",
  ),
  TASK_ORCHESTRATOR_EMBEDDING_MODEL: row(
    custom((v, fail): { provider: 'openai' | 'gemini'; model: string } | undefined => {
      const raw = (v ?? '').trim();
      if (raw === '' || raw === 'off') return undefined;
      const m = /^(openai|gemini)(?:\/(\S{1,200}))?$/.exec(raw);
      if (!m)
        fail(
          '$NAME must be off, openai, gemini, openai/<model> or gemini/<model> (openai also serves Ollama, vLLM and other OpenAI-compatible servers through OPENAI_BASE_URL)',
        );
      const provider = m![1] as 'openai' | 'gemini';
      return { provider, model: m![2] ?? DEFAULT_EMBEDDING_MODELS[provider] };
    }),
    `The failure memory's semantic stage: prompts and remembered failures are embedded by this model (provider or provider/model: openai -> ${DEFAULT_EMBEDDING_MODELS.openai}, gemini -> ${DEFAULT_EMBEDDING_MODELS.gemini}; any OpenAI-compatible /v1/embeddings through OPENAI_BASE_URL, e.g. openai/nomic-embed-text on Ollama) and matched on both TF-IDF and meaning. Cached by content, in the budget, behind a breaker; on failure matching falls back to TF-IDF and says so.`,
    { shown: 'off' },
  ),
  TASK_ORCHESTRATOR_IMMUNE_SAME_TASK_JUDGE: row(
    oneOf(['on', 'off'], 'off'),
    'The judge model decides, for a prompt in the grey zone of a remembered failure (similar, not clearly the same), whether it asks for the same task: one judge call per grey-zone check.',
  ),
  TASK_ORCHESTRATOR_FEDERATION_DIR: row(
    text(),
    'Federation hub folder shared by projects, or `database` for the team database (TASK_ORCHESTRATOR_DATABASE_URL): the projects there share patterns by the same rules; turns on federation and sync tools.',
    { shown: '(off)' },
  ),
  TASK_ORCHESTRATOR_PROJECT: row(
    matching(/^[a-z0-9][a-z0-9_-]{0,47}$/, 'lower-case letters, digits, - and _ (at most 48), e.g. my-app'),
    "This project's name in the hub (lower-case letters, digits, - and _).",
    { shown: 'project folder name' },
  ),
  TASK_ORCHESTRATOR_DATABASE_URL: row(
    databaseUrl(),
    "Keep the memory, work orders, runs, inbox, trials and budgets in this PostgreSQL database (postgres://user@host:5432/db) instead of the state folder, under this project's name (TASK_ORCHESTRATOR_PROJECT): a team's servers share them. Unset: the state folder.",
    { secret: true },
  ),
  TASK_ORCHESTRATOR_FEDERATION_SHARE: row(
    oneOf(['all', 'none'], 'all'),
    '`all`: new failure patterns are shared with the hub; `none`: share with `federation_share` only.',
  ),
  TASK_ORCHESTRATOR_SYNC_INTERVAL_S: row(
    int(300, 0, 86_400),
    'Scheduled push+pull with the hub, seconds (0 = only `sync_trigger`).',
  ),
  TASK_ORCHESTRATOR_DECAY_INTERVAL_S: row(
    int(3_600, 0, 604_800),
    'Scheduled decay: prunes patterns idle 14 days whose strength fell below 0.1 (0 = off).',
  ),
  TASK_ORCHESTRATOR_RETRAIN_EVERY: row(
    int(200, 0, 1_000_000),
    'Retrain the failure predictor in the background after this many new trials (0 = only on request).',
  ),
  TASK_ORCHESTRATOR_ALERT_RISK: row(
    fraction(0.8, true),
    'HighRiskThreshold alert fires when a prompt’s risk reaches this.',
  ),
  TASK_ORCHESTRATOR_ALERT_SPIKE: row(
    int(5, 1, 100_000),
    'FrequencySpike alert fires above this many failures within an hour.',
  ),
  TASK_ORCHESTRATOR_ALERT_CONSECUTIVE: row(
    int(3, 1, 1_000),
    'ConsecutiveFailures alert fires at this many failures in a row of one operation and model.',
  ),
  TASK_ORCHESTRATOR_ALERT_COOLDOWN_S: row(
    int(900, 0, 604_800),
    'Repeats of one alert within this many seconds merge into it instead of notifying again.',
  ),
  TASK_ORCHESTRATOR_ALERT_NOTIFY: row(
    oneOf(['info', 'warning', 'critical'], 'warning'),
    'Notifiers (stderr, webhook, Slack) get alerts of at least this severity: info, warning, critical.',
  ),
  TASK_ORCHESTRATOR_ALERT_WEBHOOK_URL: row(
    url(),
    'POST each alert as JSON here (5 s timeout, 3 retries with backoff).',
    { secret: true },
  ),
  TASK_ORCHESTRATOR_ALERT_WEBHOOK_SECRET: row(
    text(),
    'Signs webhook bodies: `x-task-orchestrator-signature: sha256=<HMAC-SHA256 hex>`.',
    { secret: true },
  ),
  TASK_ORCHESTRATOR_ALERT_SLACK_URL: row(
    url(),
    'Slack incoming-webhook URL; alerts are posted as Block Kit messages.',
    { secret: true },
  ),
  JWT_SECRET_KEY: row(
    secret(32, '(HS256 needs a 256-bit secret), e.g. `openssl rand -hex 32`'),
    'HTTP mode: HS256 secret (32+ characters) for bearer tokens; `task-orchestrator token` mints them.',
    { secret: true },
  ),
  TASK_ORCHESTRATOR_JWKS_URL: row(
    url(),
    'HTTP mode: verify tokens against this JWKS instead (RS/PS/ES/EdDSA).',
  ),
  TASK_ORCHESTRATOR_JWT_ISSUER: row(text(), 'HTTP mode: required `iss` of tokens.', {
    shown: 'task-orchestrator',
  }),
  TASK_ORCHESTRATOR_JWT_AUDIENCE: row(text(), 'HTTP mode: required `aud` of tokens.', {
    shown: 'task-orchestrator',
  }),
  TASK_ORCHESTRATOR_HTTP_ALLOWED_HOSTS: row(
    text(),
    'HTTP mode: host names clients may use (required to bind to a non-loopback address).',
    { shown: '(loopback names)' },
  ),
  TASK_ORCHESTRATOR_HTTP_ALLOWED_ORIGINS: row(
    text(),
    'HTTP mode: browser origins allowed besides the allowed hosts themselves.',
  ),
  TASK_ORCHESTRATOR_HTTP_MAX_BODY: row(
    int(1_048_576, 1_024, 104_857_600),
    'HTTP mode: largest request body in bytes (413 above).',
  ),
  TASK_ORCHESTRATOR_HTTP_RATE: row(
    int(600, 1, 1_000_000),
    'HTTP mode: requests per minute per token subject (429 with Retry-After above).',
  ),
  TASK_ORCHESTRATOR_HTTP_CONCURRENCY: row(
    int(8, 1, 1_000),
    'HTTP mode: calls in flight per token subject (429 above).',
  ),
  TASK_ORCHESTRATOR_HTTP_SESSION_IDLE_S: row(
    int(1_800, 5, 604_800),
    'HTTP mode: a session unused this long is closed (the client starts a new one).',
  ),
  TASK_ORCHESTRATOR_HTTP_SESSIONS_PER_SUBJECT: row(
    int(16, 1, 10_000),
    'HTTP mode: open sessions per token subject (429 above; idle ones expire).',
  ),
  TASK_ORCHESTRATOR_HTTP_PREAUTH_RATE: row(
    int(120, 1, 1_000_000),
    'HTTP mode: requests per minute per client address before authentication (429 above).',
  ),
  TASK_ORCHESTRATOR_HOOKS: row(
    oneOf(['on', 'off'], 'on'),
    "Claude Code hooks (`task-orchestrator hook <event>`, installed by the plugin): `off` makes every hook answer nothing and store nothing. Set it per project in `.claude/settings.json`'s `env`.",
  ),
  TASK_ORCHESTRATOR_HOOK_GRADE: row(
    oneOf(['on', 'judges', 'off'], 'on'),
    "The Stop hook grades Claude Code's final answer with code graders and stores it as a trial (`on`, nothing leaves the machine); `judges` adds LLM judges on a provider of the environment (the answer is sent to it); `off` skips grading.",
  ),
  TASK_ORCHESTRATOR_EXECUTE: row(
    oneOf(['on', 'off'], 'off'),
    '`on`: run_with_error_capture, scheduled commands and approved actions really run; `off`: dry run.',
  ),
  TASK_ORCHESTRATOR_COMMANDS: row(
    names(BARE_PROGRAM, 'bare program names', DEFAULT_COMMANDS),
    'Programs those commands may start (bare names; no interpreters or network tools by default).',
  ),
  TASK_ORCHESTRATOR_APPROVAL_TTL_S: row(
    int(3_600, 10, 2_592_000),
    'How long an approval request waits in the inbox before it expires, seconds.',
  ),
  TASK_ORCHESTRATOR_EXEC_ENV: row(
    names(/^[A-Za-z_][A-Za-z0-9_]*$/, 'variable names', [] as readonly string[], false),
    `Comma list of environment variables passed to the programs the server runs, besides ${CHILD_ENV_NAMES.join(', ')} (npm_config_*, GIT_*, NODE_OPTIONS, LD_* never pass).`,
  ),
  TASK_ORCHESTRATOR_ARTIFACT_QUOTA_MB: row(
    int(200, 1, 1_000_000),
    'Total size of task artifacts (`detailed_work`) the state folder may hold; a write past it is refused.',
  ),
  TASK_ORCHESTRATOR_RETENTION_DAYS: row(
    int(180, 0, 36_500),
    'Trial and usage log segments last written longer ago are deleted (checked at start and every 6 hours); 0 keeps everything. The decision log is kept.',
  ),
  TASK_ORCHESTRATOR_MAX_REQUEST_MB: row(
    int(10, 1, 1_024),
    'stdio: largest request line; a larger one is skipped and answered with a JSON-RPC error (the session goes on).',
  ),
  TASK_ORCHESTRATOR_MAX_SCHEDULED_JOBS: row(
    int(100, 1, 100_000),
    'Scheduled jobs that may exist at once; schedule_task past it is refused.',
  ),
} satisfies Record<string, Variable<unknown>>;

export type VariableName = keyof typeof VARIABLES;

/** The parsed environment: each variable's typed value. */
export type ParsedEnv = { [K in VariableName]: (typeof VARIABLES)[K] extends Variable<infer T> ? T : never };

/** Parses every variable of the table; every refused one is named in `issues`. */
export function parseEnv(
  env: Record<string, Raw>,
): { ok: true; value: ParsedEnv } | { ok: false; issues: string[] } {
  const value: Record<string, unknown> = {};
  const issues: string[] = [];
  for (const [name, v] of Object.entries(VARIABLES)) {
    try {
      value[name] = (v.parse as Parser<unknown>)(name)(env[name]);
    } catch (error) {
      if (!(error instanceof ConfigIssue)) throw error;
      issues.push(error.message);
    }
  }
  // The type above is what the table's parsers return.
  return issues.length ? { ok: false, issues } : { ok: true, value: value as ParsedEnv };
}

/** The default as people read it: the row's `shown`, else the parsed default. */
export function shownDefault(name: VariableName): string {
  const v: Variable<unknown> = VARIABLES[name];
  if (v.shown !== undefined) return v.shown;
  const value = v.parse(name)(undefined);
  if (value === undefined) return '-';
  if (Array.isArray(value)) return value.length ? value.join(',') : '-';
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
    ? String(value)
    : JSON.stringify(value);
}
