/**
 * The spawn pipeline: one agent call through explicit stages.
 *
 *   targets -> for each: reserve budget -> breaker + retry -> provider -> settle cost + log usage
 *           -> first success returns; a refused budget, an open breaker or a provider that keeps
 *              failing hands the call to the next configured provider (the trail says why).
 *
 * Later stages (the immune check before, graders after) wrap `run`; the stages here are what a
 * call needs to be safe to make at all.
 */
import type { Clock } from '../core/clock.js';
import { configuredBy } from '../config/defaults.js';
import { isoTime } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { BudgetGuard } from '../cost/budget.js';
import type { Pricing } from '../cost/pricing.js';
import type { UsageRecord } from '../cost/usage.js';
import type { BreakerRegistry, Verdict } from '../healing/breakers.js';
import { DEFAULT_RETRY_POLICY, withRetry } from '../healing/retry.js';
import type { RetryPolicy } from '../healing/retry.js';
import type { AppendLog } from '../storage/appendLog.js';
import { isTransient } from './providers/types.js';
import type {
  EmbedResult,
  LlmProvider,
  LlmResult,
  ProviderError,
  ProviderName,
  Usage,
} from './providers/types.js';

export interface ConfiguredProvider {
  provider: LlmProvider;
  defaultModel: string;
  /** Talks to the vendor's own endpoint, so the vendor's priced models exist there. */
  catalogue?: boolean;
}

/** Where the models a provider may be asked for come from (see SpawnPipeline.servedModels). */
export type ServedModels =
  { source: 'catalogue' } | { source: 'endpoint'; models: string[] } | { source: 'unlisted'; reason: string };

export interface SpawnRequest {
  prompt: string;
  provider?: ProviderName;
  model?: string;
  system?: string;
  maxTokens?: number;
  temperature?: number;
  jsonSchema?: Record<string, unknown>;
  /** Per attempt. Default 60 s. */
  timeoutMs?: number;
  /** For the whole call, retries and fallbacks included. Default 180 s. */
  deadlineMs?: number;
  /** false: only the requested provider. Default true. */
  fallback?: boolean;
  signal?: AbortSignal;
  /** What the call is for (recorded with usage): spawn_agent, judge, ... */
  operation: string;
  /** Breakers are per provider/model and scope: judges use their own ("judge:openai/gpt-4o-mini"). */
  breakerScope?: string;
  /**
   * When given, a successful call's budget settlement and usage record are pushed here rather than
   * awaited: the caller grades the answer meanwhile and awaits them before it reports the run.
   */
  bookkeeping?: Array<Promise<void>>;
}

export interface TrailEntry {
  provider: ProviderName;
  model: string;
  outcome: 'ok' | 'failed' | 'breaker_open' | 'budget_refused';
  attempts: number;
  error?: string;
}

export type SpawnOutcome =
  | {
      ok: true;
      output: string;
      provider: ProviderName;
      model: string;
      usage: Usage;
      cost_usd: number;
      price_basis: 'list' | 'unknown_model';
      latency_ms: number;
      trail: TrailEntry[];
    }
  | { ok: false; error: AppError; trail: TrailEntry[] };

export interface SpawnDeps {
  providers: ReadonlyMap<ProviderName, ConfiguredProvider>;
  breakers: BreakerRegistry;
  budget: BudgetGuard;
  pricing: Pricing;
  usage: AppendLog<UsageRecord>;
  clock: Clock;
  logger: Logger;
  retry?: RetryPolicy;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** Output tokens reserved when the caller sets no max_tokens. */
const DEFAULT_RESERVED_OUTPUT = 4096;

export interface EmbedCall {
  provider: ProviderName;
  model: string;
  texts: readonly string[];
  /** What the vectors are for (recorded with usage), e.g. immune:embed. */
  operation: string;
  /** Per attempt. Default 15 s. */
  timeoutMs?: number;
  /** For the whole call, retries included. Default 30 s. */
  deadlineMs?: number;
  /** Retries after the first attempt (default: the pipeline's policy); 0 on a latency-bound path. */
  maxRetries?: number;
  signal?: AbortSignal;
}

export type EmbedOutcome =
  | {
      ok: true;
      vectors: Float32Array[];
      model: string;
      cost_usd: number;
      latency_ms: number;
      attempts: number;
    }
  | { ok: false; error: AppError };

function judge(r: LlmResult | EmbedResult): Verdict {
  if (r.ok) return 'ok';
  // The caller's fault (or choice), not the provider's health: 4xx other than 408/429, cancellation.
  return ['bad_request', 'auth', 'not_found', 'aborted'].includes(r.error.code) ? 'ignored' : 'failure';
}

function describe(e: ProviderError): string {
  return `${e.code}${e.status ? ` ${e.status}` : ''}: ${e.message}`.slice(0, 300);
}

/** Retry a transient provider failure (honouring Retry-After); never an open breaker (undefined). */
function retryTransient(r: LlmResult | EmbedResult | undefined): { retry: boolean; retryAfterMs?: number } {
  return r && !r.ok && isTransient(r.error)
    ? {
        retry: true,
        ...(r.error.retry_after_ms !== undefined ? { retryAfterMs: r.error.retry_after_ms } : {}),
      }
    : { retry: false };
}

export class SpawnPipeline {
  constructor(private readonly deps: SpawnDeps) {}

  get configured(): ProviderName[] {
    return [...this.deps.providers.keys()];
  }

  /** Configured providers with their default models, in fallback order. */
  get targetsAvailable(): Array<{ name: ProviderName; defaultModel: string; catalogue: boolean }> {
    return [...this.deps.providers].map(([name, p]) => ({
      name,
      defaultModel: p.defaultModel,
      catalogue: p.catalogue ?? false,
    }));
  }

  /**
   * What a provider's endpoint serves, for choosing among its models: the vendor's own endpoint
   * has the vendor's priced models (`catalogue`); another (OPENAI_BASE_URL at Ollama, vLLM, a
   * proxy) is asked for its list, kept 10 minutes (a failure 1 minute).
   */
  async servedModels(name: ProviderName, signal?: AbortSignal): Promise<ServedModels> {
    const p = this.deps.providers.get(name);
    if (!p || p.catalogue || !p.provider.listModels) return { source: 'catalogue' };
    const now = this.deps.clock.now();
    const cached = this.served.get(name);
    if (cached && cached.until > now) return cached.value;
    const r = await p.provider.listModels({ timeoutMs: 5_000, ...(signal ? { signal } : {}) });
    const value: ServedModels =
      r.ok && r.models.length > 0
        ? { source: 'endpoint', models: r.models }
        : {
            source: 'unlisted',
            reason: r.ok
              ? 'its endpoint lists no model'
              : `its endpoint did not list its models (${describe(r.error)})`,
          };
    if (!(signal?.aborted ?? false))
      this.served.set(name, { value, until: now + (value.source === 'endpoint' ? 600_000 : 60_000) });
    return value;
  }

  private readonly served = new Map<ProviderName, { value: ServedModels; until: number }>();

  /** Now, by the pipeline's clock. */
  now(): number {
    return this.deps.clock.now();
  }

  get pricing(): Pricing {
    return this.deps.pricing;
  }

  private targets(req: SpawnRequest): Array<{ name: ProviderName; model: string }> {
    const names = this.configured;
    if (req.provider && !this.deps.providers.has(req.provider)) {
      throw new AppError('NO_PROVIDER', `Provider "${req.provider}" is not configured`, {
        hint: `Configured: ${names.join(', ') || 'none'}. Set ${configuredBy(req.provider)} to use it`,
      });
    }
    const first = req.provider ?? names[0]!;
    const order = [first, ...(req.fallback === false ? [] : names.filter((n) => n !== first))];
    return order.map((name) => ({
      name,
      model: name === first && req.model ? req.model : this.deps.providers.get(name)!.defaultModel,
    }));
  }

  /** Runs one agent call. Expected failures are values; the trail says what each provider did. */
  async run(req: SpawnRequest): Promise<SpawnOutcome> {
    if (this.deps.providers.size === 0) {
      return {
        ok: false,
        trail: [],
        error: new AppError('NO_PROVIDER', 'No LLM provider is configured', {
          hint: 'Set GEMINI_API_KEY (or GOOGLE_API_KEY), OPENAI_API_KEY (with OPENAI_BASE_URL for a local OpenAI-compatible server) or ANTHROPIC_API_KEY, or install the claude CLI on PATH, then restart the server',
        }),
      };
    }
    const trail: TrailEntry[] = [];
    const { clock } = this.deps;
    const deadline = clock.now() + (req.deadlineMs ?? 180_000);
    const budgetErrors: AppError[] = [];
    for (const target of this.targets(req)) {
      if (req.signal?.aborted) break;
      const configured = this.deps.providers.get(target.name)!;
      const key = `${req.breakerScope ? `${req.breakerScope}:` : ''}${target.name}/${target.model}`;
      const price = this.deps.pricing.price(target.name, target.model);
      const inputEstimate = Math.ceil(((req.system?.length ?? 0) + req.prompt.length) / 3) + 16;
      const worst = this.deps.pricing.cost(
        target.name,
        target.model,
        inputEstimate,
        req.maxTokens ?? DEFAULT_RESERVED_OUTPUT,
      );
      // An open breaker refuses without touching the budget or the provider: failing fast is the point.
      if (!this.deps.breakers.admits(key)) {
        trail.push({
          provider: target.name,
          model: target.model,
          outcome: 'breaker_open',
          attempts: 0,
          error: 'circuit open: failing fast',
        });
        continue;
      }
      const reservation = await this.deps.budget.reserve(target.name, worst);
      if (!reservation.ok) {
        budgetErrors.push(reservation.error);
        trail.push({
          provider: target.name,
          model: target.model,
          outcome: 'budget_refused',
          attempts: 0,
          error: reservation.error.message,
        });
        continue;
      }
      let last: LlmResult | undefined;
      let open = false;
      let calls = 0;
      await withRetry(
        async () => {
          const guarded = await this.deps.breakers.call(
            key,
            () => {
              calls++;
              return configured.provider.generate({
                model: target.model,
                prompt: req.prompt,
                ...(req.system ? { system: req.system } : {}),
                ...(req.maxTokens !== undefined ? { maxTokens: req.maxTokens } : {}),
                ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
                ...(req.jsonSchema ? { jsonSchema: req.jsonSchema } : {}),
                timeoutMs: Math.max(1, Math.min(req.timeoutMs ?? 60_000, deadline - clock.now())),
                ...(req.signal ? { signal: req.signal } : {}),
              });
            },
            judge,
          );
          if (guarded.kind === 'open') {
            open = true;
            return undefined;
          }
          last = guarded.value;
          return guarded.value;
        },
        // Never retry an open breaker; retry transient provider failures only.
        retryTransient,
        {
          policy: this.deps.retry ?? DEFAULT_RETRY_POLICY,
          deadline,
          now: () => clock.now(),
          ...(this.deps.sleep ? { sleep: this.deps.sleep } : {}),
          ...(req.signal ? { signal: req.signal } : {}),
        },
      );
      const result = last;
      const cost = result?.ok
        ? (result.cost_usd ??
          this.deps.pricing.cost(
            target.name,
            target.model,
            result.usage.input_tokens,
            result.usage.output_tokens,
          ))
        : 0;
      // The budget settles and the usage is logged at once (two files, two fsyncs in parallel).
      const settling = this.deps.budget.settle(reservation.value.id, target.name, cost);
      let logging: Promise<void> = Promise.resolve();
      if (result) {
        logging = this.deps.usage
          .append({
            at: isoTime(clock),
            provider: target.name,
            model: result.ok ? result.model : target.model,
            input_tokens: result.ok ? result.usage.input_tokens : 0,
            output_tokens: result.ok ? result.usage.output_tokens : 0,
            cost_usd: cost,
            price_basis: price.basis,
            ok: result.ok,
            operation: req.operation,
            ...(result.ok ? { latency_ms: result.latency_ms } : {}),
          })
          .then(() => undefined)
          .catch((error: unknown) => this.deps.logger.error('could not record usage', { error }));
      }
      const recorded = Promise.all([settling, logging]).then(() => undefined);
      if (result?.ok && req.bookkeeping)
        req.bookkeeping.push(
          recorded.catch((error: unknown) =>
            this.deps.logger.error('could not settle the budget', { error }),
          ),
        );
      else await recorded;
      if (result?.ok) {
        trail.push({ provider: target.name, model: target.model, outcome: 'ok', attempts: calls });
        return {
          ok: true,
          output: result.text,
          provider: target.name,
          model: result.model,
          usage: result.usage,
          cost_usd: cost,
          price_basis: price.basis,
          latency_ms: result.latency_ms,
          trail,
        };
      }
      trail.push({
        provider: target.name,
        model: target.model,
        outcome: open && !result ? 'breaker_open' : 'failed',
        // Calls that reached the provider; a fail-fast rejection by the open breaker is not one.
        attempts: calls,
        ...(result && !result.ok
          ? { error: describe(result.error) }
          : open
            ? { error: 'circuit open: failing fast' }
            : {}),
      });
      // A mistake in the request fails the same way everywhere: do not hand it to other providers.
      if (result && !result.ok && judge(result) === 'ignored') break;
    }
    const onlyBudget = trail.length > 0 && trail.every((t) => t.outcome === 'budget_refused');
    if (onlyBudget) return { ok: false, trail, error: budgetErrors[0]! };
    const summary = trail
      .map((t) => `${t.provider}/${t.model}: ${t.outcome}${t.error ? ` (${t.error})` : ''}`)
      .join('; ');
    return {
      ok: false,
      trail,
      error: new AppError('PROVIDER_UNAVAILABLE', `No provider answered: ${summary || 'cancelled'}`, {
        hint: 'healing_status shows breaker states; retry later, or configure another provider',
        details: { trail },
      }),
    };
  }

  /**
   * Embeds texts on one provider/model: behind its own breaker (`embed:provider/model`), retried
   * when transient, reserved in the budget and settled, logged as usage. Never handed to another
   * provider: vectors of different models cannot be compared. Expected failures are values.
   */
  async embed(req: EmbedCall): Promise<EmbedOutcome> {
    const configured = this.deps.providers.get(req.provider);
    if (!configured?.provider.embed)
      return {
        ok: false,
        error: new AppError(
          'NO_PROVIDER',
          configured
            ? `Provider "${req.provider}" has no embeddings`
            : `Provider "${req.provider}" is not configured`,
          {
            hint: configured
              ? 'Embeddings come from openai (or an OpenAI-compatible server) or gemini'
              : `Set ${configuredBy(req.provider)} to use it`,
          },
        ),
      };
    const embed = configured.provider.embed.bind(configured.provider);
    const { clock } = this.deps;
    const deadline = clock.now() + (req.deadlineMs ?? 30_000);
    const key = `embed:${req.provider}/${req.model}`;
    if (!this.deps.breakers.admits(key))
      return {
        ok: false,
        error: new AppError('PROVIDER_UNAVAILABLE', `Embeddings ${req.provider}/${req.model}: circuit open`, {
          hint: 'healing_status shows breaker states',
        }),
      };
    const estimate = Math.ceil(req.texts.reduce((n, t) => n + t.length, 0) / 3) + 8;
    const reservation = await this.deps.budget.reserve(
      req.provider,
      this.deps.pricing.cost(req.provider, req.model, estimate, 0),
    );
    if (!reservation.ok) return { ok: false, error: reservation.error };
    let last: EmbedResult | undefined;
    let calls = 0;
    await withRetry(
      async () => {
        const guarded = await this.deps.breakers.call(
          key,
          () => {
            calls++;
            return embed({
              model: req.model,
              texts: req.texts,
              timeoutMs: Math.max(1, Math.min(req.timeoutMs ?? 15_000, deadline - clock.now())),
              ...(req.signal ? { signal: req.signal } : {}),
            });
          },
          judge,
        );
        if (guarded.kind === 'open') return undefined;
        last = guarded.value;
        return guarded.value;
      },
      retryTransient,
      {
        policy: {
          ...(this.deps.retry ?? DEFAULT_RETRY_POLICY),
          ...(req.maxRetries !== undefined ? { maxRetries: req.maxRetries } : {}),
        },
        deadline,
        now: () => clock.now(),
        ...(this.deps.sleep ? { sleep: this.deps.sleep } : {}),
        ...(req.signal ? { signal: req.signal } : {}),
      },
    );
    const result = last;
    const cost = result?.ok ? this.deps.pricing.cost(req.provider, req.model, result.input_tokens, 0) : 0;
    await Promise.all([
      this.deps.budget.settle(reservation.value.id, req.provider, cost),
      result
        ? this.deps.usage
            .append({
              at: isoTime(clock),
              provider: req.provider,
              model: result.ok ? result.model : req.model,
              input_tokens: result.ok ? result.input_tokens : 0,
              output_tokens: 0,
              cost_usd: cost,
              price_basis: this.deps.pricing.price(req.provider, req.model).basis,
              ok: result.ok,
              operation: req.operation,
              ...(result.ok ? { latency_ms: result.latency_ms } : {}),
            })
            .catch((error: unknown) => this.deps.logger.error('could not record usage', { error }))
        : undefined,
    ]);
    if (result?.ok)
      return {
        ok: true,
        vectors: result.vectors,
        model: result.model,
        cost_usd: cost,
        latency_ms: result.latency_ms,
        attempts: calls,
      };
    return {
      ok: false,
      error: new AppError(
        'PROVIDER_UNAVAILABLE',
        `Embeddings ${req.provider}/${req.model}: ${result && !result.ok ? describe(result.error) : 'circuit open: failing fast'}${calls > 1 ? ` after ${calls} attempts` : ''}`,
        { hint: 'healing_status shows breaker states', details: { attempts: calls } },
      ),
    };
  }
}
