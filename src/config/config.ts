/**
 * The only module that reads the environment. Every variable is a row of the table in
 * variables.ts (parser, default, doc); this file turns the parsed rows into the frozen, typed
 * Config that is passed down explicitly. A bad value stops the server with a message naming the
 * variable.
 */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { AppError } from '../core/errors.js';
import type { LogLevel } from '../core/logger.js';
import { CHILD_ENV_NAMES, DEFAULT_MODELS } from './defaults.js';
import type { ProviderName } from './defaults.js';
import type { JudgeCriterionName } from './defaults.js';
import { list, nonEmpty } from './parsers.js';
import { parseEnv } from './variables.js';
import { PACKAGE_PATHS } from './packagePaths.js';

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
  readonly name: Exclude<ProviderName, 'claude-code'>;
  /** Environment variable the key came from, for messages; never the key itself. */
  readonly keyVar: string;
  readonly apiKey: string;
  readonly baseUrl: string | undefined;
  /** Model used when a call names none. */
  readonly model: string;
}

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
  /** This package's command line entry (dist/cli.js): the guard knows it however it is started. */
  readonly cliPath: string;
  /**
   * Set when this process runs inside Claude Code (CLAUDECODE, CLAUDE_CODE_* or CLAUDE_PID in its
   * environment): an agent's shell, never a person's own terminal.
   */
  readonly insideClaudeCode: boolean;
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
  /** Judges every spawn gets: `auto` (relevance, + format with a schema, + code_quality for code), `off`, or a fixed list. */
  readonly judgeGraders: 'auto' | 'off' | readonly JudgeCriterionName[];
  /** The judge, as provider/model; undefined = the first configured provider's model. */
  readonly judgeModel: string | undefined;
  /** Extra regexes scrubbed from exported training data. */
  readonly redactPatterns: readonly RegExp[];
  /** Langfuse tracing, when both keys are set. */
  readonly langfuse: { publicKey: string; secretKey: string; host: string } | undefined;
  /** Every secret-looking env value, for log redaction. */
  readonly secrets: readonly string[];
  /** Spawns use the failure memory (false: A/B measurements only). */
  readonly immune: boolean;
  /** Servers take over unfinished supervisor runs nobody drives. */
  readonly runAutoResume: boolean;
  /** A run with no onboarded worker interviews the configured models first. */
  readonly runInterview: boolean;
  /** Immune risk at or above which a spawn is blocked. */
  readonly immuneBlockRisk: number;
  /** A failure pattern blocks only after this many failures, or after failing despite its guardrails. */
  readonly immuneBlockAfter: number;
  /** The failure memory's embedding model (semantic stage); undefined = TF-IDF only. */
  readonly embeddingModel: { provider: 'openai' | 'gemini'; model: string } | undefined;
  /** The judge decides grey-zone matches of the failure memory ("is this the same task?"). */
  readonly immuneSameTaskJudge: boolean;
  /** This project's name in the federation hub. */
  readonly projectName: string;
  /** PostgreSQL connection URL: the stores live there, under `projectName` (undefined: the state folder). */
  readonly databaseUrl: string | undefined;
  /** The federation hub folder; undefined = no federation (see federationInDatabase). */
  readonly federationDir: string | undefined;
  /** The hub is the team database (TASK_ORCHESTRATOR_FEDERATION_DIR=database). */
  readonly federationInDatabase: boolean;
  /** New failure patterns are shared with the hub. */
  readonly federationShare: boolean;
  /** Scheduled sync with the hub, seconds (0 = off). */
  readonly syncIntervalS: number;
  /** Scheduled decay (pruning stale weak patterns), seconds (0 = off). */
  readonly decayIntervalS: number;
  /** Retrain the failure predictor after this many new trials (0 = only on request). */
  readonly retrainEvery: number;
  /** Claude Code hooks answer and learn (false: they do nothing). */
  readonly hooks: boolean;
  /** The Stop hook grades Claude Code's final answers: code graders (`on`), with judges, or not at all. */
  readonly hookGrade: 'on' | 'judges' | 'off';
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

/** Variables Claude Code sets for the programs it runs (its Bash tool's shell among them). */
const CLAUDE_MARKER = /^(CLAUDECODE|CLAUDE_CODE_SESSION_ID|CLAUDE_CODE_ENTRYPOINT|CLAUDE_PID)$/;

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

/** A hub-safe name from the project folder's name (e.g. "My App" -> "my-app"). */
function projectSlug(dir: string): string {
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
  const parsed = parseEnv(env);
  if (!parsed.ok)
    throw new AppError('CONFIG_INVALID', `Invalid configuration: ${parsed.issues.join('; ')}`, {
      hint: 'Fix the variable(s) named above, or unset them to use the defaults',
    });
  const e = parsed.value;
  const hubInDatabase = nonEmpty(e.TASK_ORCHESTRATOR_FEDERATION_DIR) === 'database';
  if (hubInDatabase && !e.TASK_ORCHESTRATOR_DATABASE_URL)
    throw new AppError(
      'CONFIG_INVALID',
      'TASK_ORCHESTRATOR_FEDERATION_DIR=database needs TASK_ORCHESTRATOR_DATABASE_URL',
      {
        hint: 'Set TASK_ORCHESTRATOR_DATABASE_URL to the team database, or point TASK_ORCHESTRATOR_FEDERATION_DIR at a hub folder',
      },
    );
  const cwd = options.cwd ?? process.cwd();
  const home = nonEmpty(e.TASK_ORCHESTRATOR_HOME);

  const providers: ProviderConfig[] = [];
  // In fallback order; each needs its key, and may point at another endpoint or default model.
  const apis = [
    {
      name: 'gemini',
      keys: [
        ['GEMINI_API_KEY', e.GEMINI_API_KEY],
        ['GOOGLE_API_KEY', e.GOOGLE_API_KEY],
      ],
      baseUrl: e.GEMINI_BASE_URL,
      model: e.GEMINI_MODEL,
    },
    {
      name: 'openai',
      keys: [['OPENAI_API_KEY', e.OPENAI_API_KEY]],
      baseUrl: e.OPENAI_BASE_URL,
      model: e.OPENAI_MODEL,
    },
    {
      name: 'anthropic',
      keys: [['ANTHROPIC_API_KEY', e.ANTHROPIC_API_KEY]],
      baseUrl: e.ANTHROPIC_BASE_URL,
      model: e.ANTHROPIC_MODEL,
    },
  ] as const;
  for (const api of apis) {
    const key = api.keys.find(([, value]) => nonEmpty(value) !== undefined);
    if (key)
      providers.push({
        name: api.name,
        keyVar: key[0],
        apiKey: nonEmpty(key[1])!,
        baseUrl: api.baseUrl,
        model: nonEmpty(api.model) ?? DEFAULT_MODELS[api.name],
      });
  }

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
  // The database URL may carry a password: the URL and the password are redacted wherever they appear.
  if (e.TASK_ORCHESTRATOR_DATABASE_URL) {
    secrets.push(e.TASK_ORCHESTRATOR_DATABASE_URL);
    const password = decodeURIComponent(new URL(e.TASK_ORCHESTRATOR_DATABASE_URL).password);
    if (password.length >= 4) secrets.push(password);
  }

  return Object.freeze({
    projectDir: path.resolve(cwd),
    gateCommands: Object.freeze([...e.TASK_ORCHESTRATOR_GATE_COMMANDS]),
    stateDir: path.resolve(cwd, home ?? '.task-orchestrator'),
    dataDir: PACKAGE_PATHS.dataDir,
    modelsDir: PACKAGE_PATHS.modelsDir,
    cliPath: PACKAGE_PATHS.cliPath,
    insideClaudeCode: Object.entries(env).some(
      ([name, value]) => CLAUDE_MARKER.test(name) && nonEmpty(value) !== undefined,
    ),
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
    judgeGraders:
      typeof e.TASK_ORCHESTRATOR_JUDGE_GRADERS === 'string'
        ? e.TASK_ORCHESTRATOR_JUDGE_GRADERS
        : Object.freeze([...e.TASK_ORCHESTRATOR_JUDGE_GRADERS]),
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
    immune: e.TASK_ORCHESTRATOR_IMMUNE === 'on',
    runAutoResume: e.TASK_ORCHESTRATOR_RUN_AUTO_RESUME === 'on',
    runInterview: e.TASK_ORCHESTRATOR_RUN_INTERVIEW === 'on',
    immuneBlockRisk: e.TASK_ORCHESTRATOR_IMMUNE_BLOCK_RISK,
    immuneBlockAfter: e.TASK_ORCHESTRATOR_IMMUNE_BLOCK_AFTER,
    embeddingModel: e.TASK_ORCHESTRATOR_EMBEDDING_MODEL,
    immuneSameTaskJudge: e.TASK_ORCHESTRATOR_IMMUNE_SAME_TASK_JUDGE === 'on',
    projectName: nonEmpty(e.TASK_ORCHESTRATOR_PROJECT) ?? projectSlug(path.resolve(cwd)),
    databaseUrl: e.TASK_ORCHESTRATOR_DATABASE_URL,
    federationDir:
      nonEmpty(e.TASK_ORCHESTRATOR_FEDERATION_DIR) && !hubInDatabase
        ? path.resolve(cwd, nonEmpty(e.TASK_ORCHESTRATOR_FEDERATION_DIR)!)
        : undefined,
    federationInDatabase: hubInDatabase,
    federationShare: e.TASK_ORCHESTRATOR_FEDERATION_SHARE === 'all',
    syncIntervalS: e.TASK_ORCHESTRATOR_SYNC_INTERVAL_S,
    decayIntervalS: e.TASK_ORCHESTRATOR_DECAY_INTERVAL_S,
    retrainEvery: e.TASK_ORCHESTRATOR_RETRAIN_EVERY,
    execute: e.TASK_ORCHESTRATOR_EXECUTE === 'on',
    hooks: e.TASK_ORCHESTRATOR_HOOKS === 'on',
    hookGrade: e.TASK_ORCHESTRATOR_HOOK_GRADE,
    commands: Object.freeze([...e.TASK_ORCHESTRATOR_COMMANDS]),
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
      notifyAtLeast: e.TASK_ORCHESTRATOR_ALERT_NOTIFY,
      webhookUrl: e.TASK_ORCHESTRATOR_ALERT_WEBHOOK_URL,
      webhookSecret: nonEmpty(e.TASK_ORCHESTRATOR_ALERT_WEBHOOK_SECRET),
      slackUrl: e.TASK_ORCHESTRATOR_ALERT_SLACK_URL,
    }),
  });
}
