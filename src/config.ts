/**
 * The only module that reads the environment. Everything is parsed and validated here, once, at
 * start-up; a bad value stops the server with a message naming the variable. The result is frozen
 * and passed down explicitly.
 */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { AppError } from './core/errors.js';
import type { LogLevel } from './core/logger.js';

export type ProviderConfig = ApiProviderConfig | ClaudeCliConfig;

/** The user's `claude` CLI as a keyless provider. */
export interface ClaudeCliConfig {
  readonly name: 'claude-code';
  /** Absolute path of the executable. */
  readonly command: string;
  readonly model: string;
  /** ANTHROPIC_* and CLAUDE_* variables it gets (the rest of the environment does not pass). */
  readonly env: Readonly<Record<string, string>>;
  readonly keyVar?: undefined;
  readonly baseUrl?: undefined;
}

export interface ApiProviderConfig {
  readonly name: 'gemini' | 'openai' | 'anthropic';
  /** Environment variable the key came from, for messages; never the key itself. */
  readonly keyVar: string;
  readonly apiKey: string;
  readonly baseUrl: string | undefined;
  /** Model used when a call names none. */
  readonly model: string;
}

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

export const DEFAULT_GATE_COMMANDS: readonly string[] = [
  'npm',
  'pnpm',
  'yarn',
  'make',
  'pytest',
  'go',
  'cargo',
];

export interface Config {
  /** The project the server works for (the folder it was started in); command gates run here. */
  readonly projectDir: string;
  /** Programs command gates may run. */
  readonly gateCommands: readonly string[];
  /** Project state folder (`<cwd>/.task-orchestrator` unless TASK_ORCHESTRATOR_HOME is set). */
  readonly stateDir: string;
  /** Shipped data (pricing, templates, archetypes). */
  readonly dataDir: string;
  /** Shipped and trained predictor models. */
  readonly modelsDir: string;
  /** `core`, `all`, or a list of category names; names are checked by the router. */
  readonly tools: 'core' | 'all' | readonly string[];
  readonly logLevel: LogLevel;
  /** The client's context window in tokens the context tracker budgets against. */
  readonly contextBudgetTokens: number;
  /** Fraction of the budget kept free before results turn compact. */
  readonly contextReserveRatio: number;
  /** How long `request_tool` waits for the client to re-fetch tools/list, in ms. */
  readonly listChangedWaitMs: number;
  /** Largest tool result, in estimated tokens, before it is truncated. */
  readonly maxResultTokens: number;
  readonly providers: readonly ProviderConfig[];
  /** First retry delay (ms); doubles per retry with jitter, capped at 60 s. */
  readonly retryBaseMs: number;
  /** Retries after the first attempt. */
  readonly retryMax: number;
  /** How long a circuit stays open before a trial call (ms). */
  readonly breakerResetMs: number;
  /** Model graders added to every spawn's default pipeline. */
  readonly judgeGraders: readonly string[];
  /** The judge, as provider/model; undefined = the first configured provider's model. */
  readonly judgeModel: string | undefined;
  /** Extra regexes scrubbed from exported training data. */
  readonly redactPatterns: readonly RegExp[];
  /** Langfuse tracing, when both keys are set. */
  readonly langfuse: { publicKey: string; secretKey: string; host: string } | undefined;
  /** Every secret-looking env value, for log redaction. */
  readonly secrets: readonly string[];
  /** Immune risk at or above which a spawn is blocked. */
  readonly immuneBlockRisk: number;
  /** A failure pattern blocks only after this many failures, or after failing despite its guardrails. */
  readonly immuneBlockAfter: number;
  /** This project's name in the federation hub. */
  readonly projectName: string;
  /** The federation hub folder; undefined = no federation. */
  readonly federationDir: string | undefined;
  /** New failure patterns are shared with the hub. */
  readonly federationShare: boolean;
  /** Scheduled sync with the hub, seconds (0 = off). */
  readonly syncIntervalS: number;
  /** Scheduled decay (pruning stale weak patterns), seconds (0 = off). */
  readonly decayIntervalS: number;
  /** Retrain the failure predictor after this many new trials (0 = only on request). */
  readonly retrainEvery: number;
  /** Commands actually run (run_with_error_capture, schedules, approved actions); false = dry run. */
  readonly execute: boolean;
  /** Programs those commands may start. */
  readonly commands: readonly string[];
  /** How long an approval request stays open, seconds. */
  readonly approvalTtlS: number;
  /** Environment variables (names) passed to the programs the server runs, besides the minimal set. */
  readonly execEnv: readonly string[];
  /** The environment programs the server runs start with: CHILD_ENV_NAMES and execEnv, as set. */
  readonly childEnv: Readonly<Record<string, string>>;
  /** Total bytes of task artifacts the state folder may hold. */
  readonly artifactQuotaBytes: number;
  /** Scheduled jobs that may exist at once. */
  readonly maxScheduledJobs: number;
  /** Largest JSON-RPC request line on stdio, bytes. */
  readonly maxRequestBytes: number;
  /** Trials and usage records older than this many days are deleted (0 keeps them). */
  readonly retentionDays: number;
  /** HTTP mode: authentication and limits. */
  readonly http: {
    readonly jwtSecret: string | undefined;
    readonly jwksUrl: string | undefined;
    readonly issuer: string;
    readonly audience: string;
    readonly allowedHosts: readonly string[];
    readonly allowedOrigins: readonly string[];
    readonly maxBodyBytes: number;
    readonly ratePerMinute: number;
    readonly maxConcurrent: number;
    /** A session unused this long is closed, seconds. */
    readonly sessionIdleS: number;
    /** Open sessions per token subject. */
    readonly sessionsPerSubject: number;
    /** Requests per minute per client address before authentication. */
    readonly preAuthRatePerMinute: number;
  };
  /** Alert rules' thresholds and where notifications go. */
  readonly alerts: {
    readonly risk: number;
    readonly spikePerHour: number;
    readonly consecutive: number;
    readonly cooldownS: number;
    readonly notifyAtLeast: 'info' | 'warning' | 'critical';
    readonly webhookUrl: string | undefined;
    readonly webhookSecret: string | undefined;
    readonly slackUrl: string | undefined;
  };
}

export type Env = Record<string, string | undefined>;

const SECRET_NAME = /(_KEY|_SECRET|TOKEN)$/i;

const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function intVar(name: string, def: number, min: number, max: number) {
  return z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return def;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({
          code: 'custom',
          message: `${name} must be an integer from ${min} to ${max}, got "${v}"`,
        });
        return z.NEVER;
      }
      return n;
    });
}

function urlVar(name: string) {
  return z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return undefined;
      try {
        const u = new URL(v);
        if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('protocol');
        return v.replace(/\/+$/, '');
      } catch {
        ctx.addIssue({ code: 'custom', message: `${name} must be an http(s) URL, got "${v}"` });
        return z.NEVER;
      }
    });
}

const envSchema = z.object({
  TASK_ORCHESTRATOR_HOME: z.string().optional(),
  TASK_ORCHESTRATOR_TOOLS: z
    .string()
    .optional()
    .transform((v, ctx): Config['tools'] => {
      const raw = (v ?? '').trim().toLowerCase();
      if (raw === '' || raw === 'core') return 'core';
      if (raw === 'all') return 'all';
      const names = raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      const bad = names.filter((n) => !/^[a-z][a-z0-9_-]*$/.test(n));
      if (names.length === 0 || bad.length > 0) {
        ctx.addIssue({
          code: 'custom',
          message: `TASK_ORCHESTRATOR_TOOLS must be "core", "all" or a comma list of category names, got "${v}"`,
        });
        return z.NEVER;
      }
      return names;
    }),
  TASK_ORCHESTRATOR_LOG_LEVEL: z
    .string()
    .optional()
    .transform((v, ctx): LogLevel => {
      const level = (v ?? 'info').trim().toLowerCase();
      if (level === 'debug' || level === 'info' || level === 'warn' || level === 'error') return level;
      ctx.addIssue({
        code: 'custom',
        message: `TASK_ORCHESTRATOR_LOG_LEVEL must be debug, info, warn or error, got "${v}"`,
      });
      return z.NEVER;
    }),
  TASK_ORCHESTRATOR_CONTEXT_BUDGET: intVar('TASK_ORCHESTRATOR_CONTEXT_BUDGET', 200_000, 1_000, 10_000_000),
  TASK_ORCHESTRATOR_CONTEXT_RESERVE: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return 0.1;
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0 || n >= 1) {
        ctx.addIssue({
          code: 'custom',
          message: `TASK_ORCHESTRATOR_CONTEXT_RESERVE must be a fraction between 0 and 1 (e.g. 0.1), got "${v}"`,
        });
        return z.NEVER;
      }
      return n;
    }),
  TASK_ORCHESTRATOR_LIST_CHANGED_WAIT_MS: intVar('TASK_ORCHESTRATOR_LIST_CHANGED_WAIT_MS', 2_000, 0, 30_000),
  TASK_ORCHESTRATOR_GATE_COMMANDS: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return DEFAULT_GATE_COMMANDS;
      const names = list(v);
      const bad = names.filter((n) => !/^[A-Za-z0-9._-]+$/.test(n));
      if (bad.length > 0 || names.length === 0) {
        ctx.addIssue({
          code: 'custom',
          message: `TASK_ORCHESTRATOR_GATE_COMMANDS must be a comma list of bare program names, got "${v}"`,
        });
        return z.NEVER;
      }
      return names;
    }),
  TASK_ORCHESTRATOR_RETRY_BASE_MS: intVar('TASK_ORCHESTRATOR_RETRY_BASE_MS', 2_000, 1, 60_000),
  TASK_ORCHESTRATOR_RETRY_MAX: intVar('TASK_ORCHESTRATOR_RETRY_MAX', 5, 0, 10),
  TASK_ORCHESTRATOR_BREAKER_RESET_MS: intVar('TASK_ORCHESTRATOR_BREAKER_RESET_MS', 30_000, 100, 3_600_000),
  TASK_ORCHESTRATOR_JUDGE_GRADERS: z
    .string()
    .optional()
    .transform((v, ctx) => {
      const names = list(v);
      const known = [
        'relevance',
        'completeness',
        'accuracy',
        'format',
        'code_quality',
        'safety',
        'performance',
      ];
      const bad = names.filter((n) => !known.includes(n));
      if (bad.length) {
        ctx.addIssue({
          code: 'custom',
          message: `TASK_ORCHESTRATOR_JUDGE_GRADERS has unknown graders ${bad.join(', ')}; known: ${known.join(', ')}`,
        });
        return z.NEVER;
      }
      return names;
    }),
  TASK_ORCHESTRATOR_JUDGE_MODEL: z
    .string()
    .optional()
    .refine(
      (v) =>
        v === undefined || v.trim() === '' || /^(openai|gemini|anthropic|claude-code)(\/.+)?$/.test(v.trim()),
      {
        message: 'TASK_ORCHESTRATOR_JUDGE_MODEL must be provider or provider/model, e.g. openai/gpt-4o-mini',
      },
    ),
  TASK_ORCHESTRATOR_MAX_RESULT_TOKENS: intVar('TASK_ORCHESTRATOR_MAX_RESULT_TOKENS', 20_000, 500, 100_000),
  TASK_ORCHESTRATOR_IMMUNE_BLOCK_AFTER: intVar('TASK_ORCHESTRATOR_IMMUNE_BLOCK_AFTER', 3, 1, 1_000),
  TASK_ORCHESTRATOR_IMMUNE_BLOCK_RISK: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return 0.9;
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0 || n > 1) {
        ctx.addIssue({
          code: 'custom',
          message: `TASK_ORCHESTRATOR_IMMUNE_BLOCK_RISK must be a number above 0 and at most 1 (1 = block only certain repeats), got "${v}"`,
        });
        return z.NEVER;
      }
      return n;
    }),
  TASK_ORCHESTRATOR_PROJECT: z
    .string()
    .optional()
    .refine((v) => v === undefined || v.trim() === '' || /^[a-z0-9][a-z0-9_-]{0,47}$/.test(v.trim()), {
      message:
        'TASK_ORCHESTRATOR_PROJECT must be lower-case letters, digits, - and _ (at most 48), e.g. my-app',
    }),
  TASK_ORCHESTRATOR_FEDERATION_DIR: z.string().optional(),
  TASK_ORCHESTRATOR_FEDERATION_SHARE: z
    .string()
    .optional()
    .refine((v) => v === undefined || ['', 'all', 'none'].includes(v.trim().toLowerCase()), {
      message: 'TASK_ORCHESTRATOR_FEDERATION_SHARE must be "all" or "none"',
    }),
  TASK_ORCHESTRATOR_SYNC_INTERVAL_S: intVar('TASK_ORCHESTRATOR_SYNC_INTERVAL_S', 300, 0, 86_400),
  TASK_ORCHESTRATOR_DECAY_INTERVAL_S: intVar('TASK_ORCHESTRATOR_DECAY_INTERVAL_S', 3_600, 0, 604_800),
  TASK_ORCHESTRATOR_RETRAIN_EVERY: intVar('TASK_ORCHESTRATOR_RETRAIN_EVERY', 200, 0, 1_000_000),
  TASK_ORCHESTRATOR_ALERT_RISK: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return 0.8;
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0 || n > 1) {
        ctx.addIssue({
          code: 'custom',
          message: `TASK_ORCHESTRATOR_ALERT_RISK must be a number above 0 and at most 1, got "${v}"`,
        });
        return z.NEVER;
      }
      return n;
    }),
  TASK_ORCHESTRATOR_EXECUTE: z
    .string()
    .optional()
    .refine((v) => v === undefined || ['', 'on', 'off'].includes(v.trim().toLowerCase()), {
      message: 'TASK_ORCHESTRATOR_EXECUTE must be "on" or "off"',
    }),
  TASK_ORCHESTRATOR_COMMANDS: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return undefined;
      const names = list(v);
      const bad = names.filter((n) => !/^[A-Za-z0-9._-]+$/.test(n));
      if (bad.length || names.length === 0) {
        ctx.addIssue({
          code: 'custom',
          message: `TASK_ORCHESTRATOR_COMMANDS must be a comma list of bare program names, got "${v}"`,
        });
        return z.NEVER;
      }
      return names;
    }),
  TASK_ORCHESTRATOR_APPROVAL_TTL_S: intVar('TASK_ORCHESTRATOR_APPROVAL_TTL_S', 3_600, 10, 2_592_000),
  TASK_ORCHESTRATOR_EXEC_ENV: z
    .string()
    .optional()
    .transform((v, ctx) => {
      const names = list(v);
      const bad = names.filter((n) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(n));
      if (bad.length) {
        ctx.addIssue({
          code: 'custom',
          message: `TASK_ORCHESTRATOR_EXEC_ENV must be a comma list of variable names, got "${v}"`,
        });
        return z.NEVER;
      }
      return names;
    }),
  TASK_ORCHESTRATOR_ARTIFACT_QUOTA_MB: intVar('TASK_ORCHESTRATOR_ARTIFACT_QUOTA_MB', 200, 1, 1_000_000),
  TASK_ORCHESTRATOR_RETENTION_DAYS: intVar('TASK_ORCHESTRATOR_RETENTION_DAYS', 180, 0, 36_500),
  TASK_ORCHESTRATOR_MAX_REQUEST_MB: intVar('TASK_ORCHESTRATOR_MAX_REQUEST_MB', 10, 1, 1_024),
  TASK_ORCHESTRATOR_MAX_SCHEDULED_JOBS: intVar('TASK_ORCHESTRATOR_MAX_SCHEDULED_JOBS', 100, 1, 100_000),
  TASK_ORCHESTRATOR_HTTP_SESSION_IDLE_S: intVar('TASK_ORCHESTRATOR_HTTP_SESSION_IDLE_S', 1_800, 5, 604_800),
  TASK_ORCHESTRATOR_HTTP_SESSIONS_PER_SUBJECT: intVar(
    'TASK_ORCHESTRATOR_HTTP_SESSIONS_PER_SUBJECT',
    16,
    1,
    10_000,
  ),
  TASK_ORCHESTRATOR_HTTP_PREAUTH_RATE: intVar('TASK_ORCHESTRATOR_HTTP_PREAUTH_RATE', 120, 1, 1_000_000),
  JWT_SECRET_KEY: z
    .string()
    .optional()
    .refine((v) => v === undefined || v === '' || v.length >= 32, {
      message:
        'JWT_SECRET_KEY must be at least 32 characters (HS256 needs a 256-bit secret), e.g. `openssl rand -hex 32`',
    }),
  TASK_ORCHESTRATOR_JWKS_URL: urlVar('TASK_ORCHESTRATOR_JWKS_URL'),
  TASK_ORCHESTRATOR_JWT_ISSUER: z.string().optional(),
  TASK_ORCHESTRATOR_JWT_AUDIENCE: z.string().optional(),
  TASK_ORCHESTRATOR_HTTP_ALLOWED_HOSTS: z.string().optional(),
  TASK_ORCHESTRATOR_HTTP_ALLOWED_ORIGINS: z.string().optional(),
  TASK_ORCHESTRATOR_HTTP_MAX_BODY: intVar('TASK_ORCHESTRATOR_HTTP_MAX_BODY', 1_048_576, 1_024, 104_857_600),
  TASK_ORCHESTRATOR_HTTP_RATE: intVar('TASK_ORCHESTRATOR_HTTP_RATE', 600, 1, 1_000_000),
  TASK_ORCHESTRATOR_HTTP_CONCURRENCY: intVar('TASK_ORCHESTRATOR_HTTP_CONCURRENCY', 8, 1, 1_000),
  TASK_ORCHESTRATOR_ALERT_SPIKE: intVar('TASK_ORCHESTRATOR_ALERT_SPIKE', 5, 1, 100_000),
  TASK_ORCHESTRATOR_ALERT_CONSECUTIVE: intVar('TASK_ORCHESTRATOR_ALERT_CONSECUTIVE', 3, 1, 1_000),
  TASK_ORCHESTRATOR_ALERT_COOLDOWN_S: intVar('TASK_ORCHESTRATOR_ALERT_COOLDOWN_S', 900, 0, 604_800),
  TASK_ORCHESTRATOR_ALERT_NOTIFY: z
    .string()
    .optional()
    .refine((v) => v === undefined || ['', 'info', 'warning', 'critical'].includes(v.trim().toLowerCase()), {
      message: 'TASK_ORCHESTRATOR_ALERT_NOTIFY must be info, warning or critical',
    }),
  TASK_ORCHESTRATOR_ALERT_WEBHOOK_URL: urlVar('TASK_ORCHESTRATOR_ALERT_WEBHOOK_URL'),
  TASK_ORCHESTRATOR_ALERT_WEBHOOK_SECRET: z.string().optional(),
  TASK_ORCHESTRATOR_ALERT_SLACK_URL: urlVar('TASK_ORCHESTRATOR_ALERT_SLACK_URL'),
  GEMINI_API_KEY: z.string().optional(),
  GOOGLE_API_KEY: z.string().optional(),
  GEMINI_BASE_URL: urlVar('GEMINI_BASE_URL'),
  GEMINI_MODEL: z.string().optional(),
  OPENAI_MODEL: z.string().optional(),
  ANTHROPIC_MODEL: z.string().optional(),
  TASK_ORCHESTRATOR_CLAUDE_CLI: z.string().optional(),
  TASK_ORCHESTRATOR_REDACT_PATTERNS: z
    .string()
    .optional()
    .transform((v, ctx) => {
      const sources = (v ?? '')
        .split(';;')
        .map((p) => p.trim())
        .filter(Boolean);
      try {
        return sources.map((p) => new RegExp(p, 'g'));
      } catch (error) {
        ctx.addIssue({
          code: 'custom',
          message: `TASK_ORCHESTRATOR_REDACT_PATTERNS has an invalid regex: ${(error as Error).message}`,
        });
        return z.NEVER;
      }
    }),
  LANGFUSE_PUBLIC_KEY: z.string().optional(),
  LANGFUSE_SECRET_KEY: z.string().optional(),
  LANGFUSE_HOST: urlVar('LANGFUSE_HOST'),
  PATH: z.string().optional(),
  OPENAI_API_KEY: z.string().optional(),
  OPENAI_BASE_URL: urlVar('OPENAI_BASE_URL'),
  ANTHROPIC_API_KEY: z.string().optional(),
  ANTHROPIC_BASE_URL: urlVar('ANTHROPIC_BASE_URL'),
});

/** The first executable `name` on PATH, or undefined. */
function findOnPath(name: string, pathVar: string | undefined): string | undefined {
  for (const dir of (pathVar ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

function list(v: string | undefined): string[] {
  return (v ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
}

function nonEmpty(v: string | undefined): string | undefined {
  return v !== undefined && v.trim() !== '' ? v.trim() : undefined;
}

/** A hub-safe name from the project folder's name (e.g. "My App" -> "my-app"). */
export function projectSlug(dir: string): string {
  const slug = path
    .basename(dir)
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^[-_]+|-+$/g, '')
    .slice(0, 48);
  return slug || 'project';
}

export interface LoadConfigOptions {
  /** Directory whose `.task-orchestrator` holds state when TASK_ORCHESTRATOR_HOME is unset. */
  cwd?: string;
}

/**
 * Parses the environment into a frozen Config.
 * @throws AppError CONFIG_INVALID naming every bad variable.
 */
export function loadConfig(env: Env = process.env, options: LoadConfigOptions = {}): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => i.message);
    throw new AppError('CONFIG_INVALID', `Invalid configuration: ${lines.join('; ')}`, {
      hint: 'Fix the variable(s) named above, or unset them to use the defaults',
    });
  }
  const e = parsed.data;
  const cwd = options.cwd ?? process.cwd();
  const home = nonEmpty(e.TASK_ORCHESTRATOR_HOME);

  const providers: ProviderConfig[] = [];
  const geminiKeyVar = nonEmpty(e.GEMINI_API_KEY) ? 'GEMINI_API_KEY' : 'GOOGLE_API_KEY';
  const geminiKey = nonEmpty(e.GEMINI_API_KEY) ?? nonEmpty(e.GOOGLE_API_KEY);
  if (geminiKey)
    providers.push({
      name: 'gemini',
      keyVar: geminiKeyVar,
      apiKey: geminiKey,
      baseUrl: e.GEMINI_BASE_URL,
      model: nonEmpty(e.GEMINI_MODEL) ?? DEFAULT_MODELS.gemini,
    });
  const openaiKey = nonEmpty(e.OPENAI_API_KEY);
  if (openaiKey)
    providers.push({
      name: 'openai',
      keyVar: 'OPENAI_API_KEY',
      apiKey: openaiKey,
      baseUrl: e.OPENAI_BASE_URL,
      model: nonEmpty(e.OPENAI_MODEL) ?? DEFAULT_MODELS.openai,
    });
  const anthropicKey = nonEmpty(e.ANTHROPIC_API_KEY);
  if (anthropicKey)
    providers.push({
      name: 'anthropic',
      keyVar: 'ANTHROPIC_API_KEY',
      apiKey: anthropicKey,
      baseUrl: e.ANTHROPIC_BASE_URL,
      model: nonEmpty(e.ANTHROPIC_MODEL) ?? DEFAULT_MODELS.anthropic,
    });

  // The keyless provider: the user's claude CLI, found on PATH unless turned off or pointed at.
  const cli = (e.TASK_ORCHESTRATOR_CLAUDE_CLI ?? 'auto').trim();
  if (cli !== 'off') {
    const command = cli === 'auto' || cli === '' ? findOnPath('claude', e.PATH) : path.resolve(cwd, cli);
    if (command) {
      // Its own settings pass to it; nothing else of the server's environment does.
      const cliEnv = Object.fromEntries(
        Object.entries(env).filter(
          (pair): pair is [string, string] => /^(ANTHROPIC_|CLAUDE_)/.test(pair[0]) && pair[1] !== undefined,
        ),
      );
      providers.push({ name: 'claude-code', command, model: 'default', env: Object.freeze(cliEnv) });
    }
  }

  const secrets = Object.entries(env)
    .filter(([name, value]) => SECRET_NAME.test(name) && value !== undefined && value.trim().length >= 4)
    .map(([, value]) => (value as string).trim());
  // Webhook URLs carry their credentials in the path (Slack's always do): never log them.
  for (const url of [e.TASK_ORCHESTRATOR_ALERT_SLACK_URL, e.TASK_ORCHESTRATOR_ALERT_WEBHOOK_URL])
    if (url) secrets.push(url);

  return Object.freeze({
    projectDir: path.resolve(cwd),
    gateCommands: Object.freeze([...e.TASK_ORCHESTRATOR_GATE_COMMANDS]),
    stateDir: path.resolve(cwd, home ?? '.task-orchestrator'),
    dataDir: path.join(packageRoot, 'data'),
    modelsDir: path.join(packageRoot, 'models'),
    tools: e.TASK_ORCHESTRATOR_TOOLS,
    logLevel: e.TASK_ORCHESTRATOR_LOG_LEVEL,
    contextBudgetTokens: e.TASK_ORCHESTRATOR_CONTEXT_BUDGET,
    contextReserveRatio: e.TASK_ORCHESTRATOR_CONTEXT_RESERVE,
    listChangedWaitMs: e.TASK_ORCHESTRATOR_LIST_CHANGED_WAIT_MS,
    maxResultTokens: e.TASK_ORCHESTRATOR_MAX_RESULT_TOKENS,
    providers: Object.freeze(providers),
    retryBaseMs: e.TASK_ORCHESTRATOR_RETRY_BASE_MS,
    retryMax: e.TASK_ORCHESTRATOR_RETRY_MAX,
    breakerResetMs: e.TASK_ORCHESTRATOR_BREAKER_RESET_MS,
    judgeGraders: Object.freeze(e.TASK_ORCHESTRATOR_JUDGE_GRADERS),
    redactPatterns: Object.freeze(e.TASK_ORCHESTRATOR_REDACT_PATTERNS),
    langfuse:
      nonEmpty(e.LANGFUSE_PUBLIC_KEY) && nonEmpty(e.LANGFUSE_SECRET_KEY)
        ? {
            publicKey: nonEmpty(e.LANGFUSE_PUBLIC_KEY)!,
            secretKey: nonEmpty(e.LANGFUSE_SECRET_KEY)!,
            host: e.LANGFUSE_HOST ?? 'https://cloud.langfuse.com',
          }
        : undefined,
    judgeModel: nonEmpty(e.TASK_ORCHESTRATOR_JUDGE_MODEL),
    secrets: Object.freeze(secrets),
    immuneBlockRisk: e.TASK_ORCHESTRATOR_IMMUNE_BLOCK_RISK,
    immuneBlockAfter: e.TASK_ORCHESTRATOR_IMMUNE_BLOCK_AFTER,
    projectName: nonEmpty(e.TASK_ORCHESTRATOR_PROJECT) ?? projectSlug(path.resolve(cwd)),
    federationDir: nonEmpty(e.TASK_ORCHESTRATOR_FEDERATION_DIR)
      ? path.resolve(cwd, nonEmpty(e.TASK_ORCHESTRATOR_FEDERATION_DIR)!)
      : undefined,
    federationShare: (nonEmpty(e.TASK_ORCHESTRATOR_FEDERATION_SHARE) ?? 'all').toLowerCase() !== 'none',
    syncIntervalS: e.TASK_ORCHESTRATOR_SYNC_INTERVAL_S,
    decayIntervalS: e.TASK_ORCHESTRATOR_DECAY_INTERVAL_S,
    retrainEvery: e.TASK_ORCHESTRATOR_RETRAIN_EVERY,
    execute: (nonEmpty(e.TASK_ORCHESTRATOR_EXECUTE) ?? 'off').toLowerCase() === 'on',
    commands: Object.freeze([...(e.TASK_ORCHESTRATOR_COMMANDS ?? DEFAULT_COMMANDS)]),
    approvalTtlS: e.TASK_ORCHESTRATOR_APPROVAL_TTL_S,
    execEnv: Object.freeze(e.TASK_ORCHESTRATOR_EXEC_ENV),
    childEnv: Object.freeze(
      Object.fromEntries(
        [...CHILD_ENV_NAMES, ...e.TASK_ORCHESTRATOR_EXEC_ENV]
          .map((name) => [name, env[name]] as const)
          .filter((pair): pair is readonly [string, string] => pair[1] !== undefined),
      ),
    ),
    artifactQuotaBytes: e.TASK_ORCHESTRATOR_ARTIFACT_QUOTA_MB * 1024 * 1024,
    maxScheduledJobs: e.TASK_ORCHESTRATOR_MAX_SCHEDULED_JOBS,
    maxRequestBytes: e.TASK_ORCHESTRATOR_MAX_REQUEST_MB * 1024 * 1024,
    retentionDays: e.TASK_ORCHESTRATOR_RETENTION_DAYS,
    http: Object.freeze({
      jwtSecret: nonEmpty(e.JWT_SECRET_KEY),
      jwksUrl: e.TASK_ORCHESTRATOR_JWKS_URL,
      issuer: nonEmpty(e.TASK_ORCHESTRATOR_JWT_ISSUER) ?? 'task-orchestrator',
      audience: nonEmpty(e.TASK_ORCHESTRATOR_JWT_AUDIENCE) ?? 'task-orchestrator',
      allowedHosts: Object.freeze(list(e.TASK_ORCHESTRATOR_HTTP_ALLOWED_HOSTS).map((h) => h.toLowerCase())),
      allowedOrigins: Object.freeze(list(e.TASK_ORCHESTRATOR_HTTP_ALLOWED_ORIGINS)),
      maxBodyBytes: e.TASK_ORCHESTRATOR_HTTP_MAX_BODY,
      ratePerMinute: e.TASK_ORCHESTRATOR_HTTP_RATE,
      maxConcurrent: e.TASK_ORCHESTRATOR_HTTP_CONCURRENCY,
      sessionIdleS: e.TASK_ORCHESTRATOR_HTTP_SESSION_IDLE_S,
      sessionsPerSubject: e.TASK_ORCHESTRATOR_HTTP_SESSIONS_PER_SUBJECT,
      preAuthRatePerMinute: e.TASK_ORCHESTRATOR_HTTP_PREAUTH_RATE,
    }),
    alerts: Object.freeze({
      risk: e.TASK_ORCHESTRATOR_ALERT_RISK,
      spikePerHour: e.TASK_ORCHESTRATOR_ALERT_SPIKE,
      consecutive: e.TASK_ORCHESTRATOR_ALERT_CONSECUTIVE,
      cooldownS: e.TASK_ORCHESTRATOR_ALERT_COOLDOWN_S,
      notifyAtLeast: (nonEmpty(e.TASK_ORCHESTRATOR_ALERT_NOTIFY)?.toLowerCase() ?? 'warning') as
        'info' | 'warning' | 'critical',
      webhookUrl: e.TASK_ORCHESTRATOR_ALERT_WEBHOOK_URL,
      webhookSecret: nonEmpty(e.TASK_ORCHESTRATOR_ALERT_WEBHOOK_SECRET),
      slackUrl: e.TASK_ORCHESTRATOR_ALERT_SLACK_URL,
    }),
  });
}

/** Every environment variable the server reads, with its meaning; the README table comes from here. */
export const ENV_VARS: ReadonlyArray<{ name: string; default: string; description: string }> = [
  {
    name: 'TASK_ORCHESTRATOR_HOME',
    default: '<cwd>/.task-orchestrator',
    description: 'State folder (tasks, logs, audit). Several servers may share one.',
  },
  {
    name: 'TASK_ORCHESTRATOR_TOOLS',
    default: 'core',
    description: 'Categories exposed at start: `core`, `all`, or a comma list (e.g. `core,agent`).',
  },
  {
    name: 'TASK_ORCHESTRATOR_LOG_LEVEL',
    default: 'info',
    description: 'stderr log level: debug, info, warn, error.',
  },
  {
    name: 'TASK_ORCHESTRATOR_CONTEXT_BUDGET',
    default: '200000',
    description: 'Client context window (tokens) the context tracker budgets against.',
  },
  {
    name: 'TASK_ORCHESTRATOR_CONTEXT_RESERVE',
    default: '0.1',
    description: 'Fraction of the budget kept free; below it results turn compact.',
  },
  {
    name: 'TASK_ORCHESTRATOR_LIST_CHANGED_WAIT_MS',
    default: '2000',
    description: '`request_tool` waits up to this long for the client to re-fetch tools/list.',
  },
  {
    name: 'TASK_ORCHESTRATOR_MAX_RESULT_TOKENS',
    default: '20000',
    description: 'Largest tool result (estimated tokens) before explicit truncation.',
  },
  {
    name: 'TASK_ORCHESTRATOR_GATE_COMMANDS',
    default: DEFAULT_GATE_COMMANDS.join(','),
    description:
      'Programs a task command gate may run (no shell; npm/pnpm/yarn only their test/run subcommands). Gates run in the folder the server started in.',
  },
  {
    name: 'TASK_ORCHESTRATOR_RETRY_BASE_MS / _RETRY_MAX',
    default: '2000 / 5',
    description:
      'Provider retries: first delay (doubling with jitter, capped at 60 s) and how many; Retry-After is honoured.',
  },
  {
    name: 'TASK_ORCHESTRATOR_BREAKER_RESET_MS',
    default: '30000',
    description:
      'A provider+model circuit opens after 3 failures in a minute and allows one trial call after this long.',
  },
  {
    name: 'TASK_ORCHESTRATOR_JUDGE_GRADERS / _JUDGE_MODEL',
    default: '- / first provider',
    description:
      'LLM-as-judge graders added to every spawn (comma list: relevance, completeness, accuracy, format, code_quality, safety, performance) and the judge (provider or provider/model). Judges cost budget like agents.',
  },
  {
    name: 'TASK_ORCHESTRATOR_REDACT_PATTERNS',
    default: '-',
    description:
      'Extra regexes (separated by `;;`) scrubbed from exported training data, besides configured keys and common credential shapes.',
  },
  {
    name: 'LANGFUSE_PUBLIC_KEY / _SECRET_KEY / _HOST',
    default: '- / - / https://cloud.langfuse.com',
    description:
      'Langfuse tracing (a trace per agent run with its generation and grader scores); off unless both keys are set.',
  },
  {
    name: 'TASK_ORCHESTRATOR_CLAUDE_CLI',
    default: 'auto',
    description:
      "Keyless provider: `auto` uses the `claude` CLI found on PATH (Claude Code's own login and billing), `off` disables it, or give its path. It comes last in the fallback order.",
  },
  {
    name: 'GEMINI_API_KEY / GOOGLE_API_KEY',
    default: '-',
    description: `Gemini key; \`GEMINI_BASE_URL\` overrides the endpoint, \`GEMINI_MODEL\` the default model (${DEFAULT_MODELS.gemini}).`,
  },
  {
    name: 'OPENAI_API_KEY',
    default: '-',
    description: `OpenAI key; \`OPENAI_BASE_URL\` points at any OpenAI-compatible server (Ollama, vLLM, LM Studio, LiteLLM), \`OPENAI_MODEL\` sets the default model (${DEFAULT_MODELS.openai}).`,
  },
  {
    name: 'ANTHROPIC_API_KEY',
    default: '-',
    description: `Anthropic key; \`ANTHROPIC_BASE_URL\` overrides the endpoint, \`ANTHROPIC_MODEL\` the default model (${DEFAULT_MODELS.anthropic}).`,
  },
  {
    name: 'TASK_ORCHESTRATOR_IMMUNE_BLOCK_AFTER',
    default: '3',
    description:
      'Escalation: a remembered failure first adds guardrails; it blocks (at TASK_ORCHESTRATOR_IMMUNE_BLOCK_RISK) only after this many failures, or after failing again with its guardrails applied.',
  },
  {
    name: 'TASK_ORCHESTRATOR_IMMUNE_BLOCK_RISK',
    default: '0.9',
    description: 'Immune risk (0-1) at or above which a spawn is blocked before any provider call.',
  },
  {
    name: 'TASK_ORCHESTRATOR_FEDERATION_DIR',
    default: '(off)',
    description: 'Federation hub folder shared by projects; turns on federation and sync tools.',
  },
  {
    name: 'TASK_ORCHESTRATOR_PROJECT',
    default: 'project folder name',
    description: "This project's name in the hub (lower-case letters, digits, - and _).",
  },
  {
    name: 'TASK_ORCHESTRATOR_FEDERATION_SHARE',
    default: 'all',
    description:
      '`all`: new failure patterns are shared with the hub; `none`: share with `federation_share` only.',
  },
  {
    name: 'TASK_ORCHESTRATOR_SYNC_INTERVAL_S',
    default: '300',
    description: 'Scheduled push+pull with the hub, seconds (0 = only `sync_trigger`).',
  },
  {
    name: 'TASK_ORCHESTRATOR_DECAY_INTERVAL_S',
    default: '3600',
    description: 'Scheduled decay: prunes patterns idle 14 days whose strength fell below 0.1 (0 = off).',
  },
  {
    name: 'TASK_ORCHESTRATOR_RETRAIN_EVERY',
    default: '200',
    description:
      'Retrain the failure predictor in the background after this many new trials (0 = only on request).',
  },
  {
    name: 'TASK_ORCHESTRATOR_ALERT_RISK',
    default: '0.8',
    description: 'HighRiskThreshold alert fires when a prompt’s risk reaches this.',
  },
  {
    name: 'TASK_ORCHESTRATOR_ALERT_SPIKE',
    default: '5',
    description: 'FrequencySpike alert fires above this many failures within an hour.',
  },
  {
    name: 'TASK_ORCHESTRATOR_ALERT_CONSECUTIVE',
    default: '3',
    description: 'ConsecutiveFailures alert fires at this many failures in a row of one operation and model.',
  },
  {
    name: 'TASK_ORCHESTRATOR_ALERT_COOLDOWN_S',
    default: '900',
    description: 'Repeats of one alert within this many seconds merge into it instead of notifying again.',
  },
  {
    name: 'TASK_ORCHESTRATOR_ALERT_NOTIFY',
    default: 'warning',
    description:
      'Notifiers (stderr, webhook, Slack) get alerts of at least this severity: info, warning, critical.',
  },
  {
    name: 'TASK_ORCHESTRATOR_ALERT_WEBHOOK_URL',
    default: '(none)',
    description: 'POST each alert as JSON here (5 s timeout, 3 retries with backoff).',
  },
  {
    name: 'TASK_ORCHESTRATOR_ALERT_WEBHOOK_SECRET',
    default: '(none)',
    description: 'Signs webhook bodies: `x-task-orchestrator-signature: sha256=<HMAC-SHA256 hex>`.',
  },
  {
    name: 'TASK_ORCHESTRATOR_ALERT_SLACK_URL',
    default: '(none)',
    description: 'Slack incoming-webhook URL; alerts are posted as Block Kit messages.',
  },
  {
    name: 'JWT_SECRET_KEY',
    default: '(none)',
    description:
      'HTTP mode: HS256 secret (32+ characters) for bearer tokens; `task-orchestrator token` mints them.',
  },
  {
    name: 'TASK_ORCHESTRATOR_JWKS_URL',
    default: '(none)',
    description: 'HTTP mode: verify tokens against this JWKS instead (RS/PS/ES/EdDSA).',
  },
  {
    name: 'TASK_ORCHESTRATOR_JWT_ISSUER',
    default: 'task-orchestrator',
    description: 'HTTP mode: required `iss` of tokens.',
  },
  {
    name: 'TASK_ORCHESTRATOR_JWT_AUDIENCE',
    default: 'task-orchestrator',
    description: 'HTTP mode: required `aud` of tokens.',
  },
  {
    name: 'TASK_ORCHESTRATOR_HTTP_ALLOWED_HOSTS',
    default: '(loopback names)',
    description: 'HTTP mode: host names clients may use (required to bind to a non-loopback address).',
  },
  {
    name: 'TASK_ORCHESTRATOR_HTTP_ALLOWED_ORIGINS',
    default: '(none)',
    description: 'HTTP mode: browser origins allowed besides the allowed hosts themselves.',
  },
  {
    name: 'TASK_ORCHESTRATOR_HTTP_MAX_BODY',
    default: '1048576',
    description: 'HTTP mode: largest request body in bytes (413 above).',
  },
  {
    name: 'TASK_ORCHESTRATOR_HTTP_RATE',
    default: '600',
    description: 'HTTP mode: requests per minute per token subject (429 with Retry-After above).',
  },
  {
    name: 'TASK_ORCHESTRATOR_HTTP_CONCURRENCY',
    default: '8',
    description: 'HTTP mode: calls in flight per token subject (429 above).',
  },
  {
    name: 'TASK_ORCHESTRATOR_EXECUTE',
    default: 'off',
    description:
      '`on`: run_with_error_capture, scheduled commands and approved actions really run; `off`: dry run.',
  },
  {
    name: 'TASK_ORCHESTRATOR_COMMANDS',
    default:
      'npm,pnpm,yarn,make,tsc,eslint,prettier,vitest,jest,pytest,cargo,go,git,ls,cat,echo,grep,wc,head,tail,true,false',
    description:
      'Programs those commands may start (bare names; no interpreters or network tools by default).',
  },
  {
    name: 'TASK_ORCHESTRATOR_APPROVAL_TTL_S',
    default: '3600',
    description: 'How long an approval request waits in the inbox before it expires, seconds.',
  },
  {
    name: 'TASK_ORCHESTRATOR_EXEC_ENV',
    default: '',
    description:
      'Comma list of environment variables passed to the programs the server runs, besides PATH, HOME, locale and a few more (npm_config_*, GIT_*, NODE_OPTIONS, LD_* never pass).',
  },
  {
    name: 'TASK_ORCHESTRATOR_ARTIFACT_QUOTA_MB',
    default: '200',
    description:
      'Total size of task artifacts (`detailed_work`) the state folder may hold; a write past it is refused.',
  },
  {
    name: 'TASK_ORCHESTRATOR_RETENTION_DAYS',
    default: '180',
    description:
      'Trial and usage log segments last written longer ago are deleted (checked at start and every 6 hours); 0 keeps everything. The decision log is kept.',
  },
  {
    name: 'TASK_ORCHESTRATOR_MAX_REQUEST_MB',
    default: '10',
    description:
      'stdio: largest request line; a larger one is skipped and answered with a JSON-RPC error (the session goes on).',
  },
  {
    name: 'TASK_ORCHESTRATOR_MAX_SCHEDULED_JOBS',
    default: '100',
    description: 'Scheduled jobs that may exist at once; schedule_task past it is refused.',
  },
  {
    name: 'TASK_ORCHESTRATOR_HTTP_SESSION_IDLE_S',
    default: '1800',
    description: 'HTTP mode: a session unused this long is closed (the client starts a new one).',
  },
  {
    name: 'TASK_ORCHESTRATOR_HTTP_SESSIONS_PER_SUBJECT',
    default: '16',
    description: 'HTTP mode: open sessions per token subject (429 above; idle ones expire).',
  },
  {
    name: 'TASK_ORCHESTRATOR_HTTP_PREAUTH_RATE',
    default: '120',
    description: 'HTTP mode: requests per minute per client address before authentication (429 above).',
  },
];
