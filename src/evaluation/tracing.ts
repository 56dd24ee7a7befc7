/**
 * Langfuse tracing: one trace per graded agent run, with a generation (model, usage, cost,
 * latency) and one score per grader plus eval/overall. Enabled by LANGFUSE_PUBLIC_KEY and
 * LANGFUSE_SECRET_KEY (LANGFUSE_HOST for self-hosted); without them nothing is sent and nothing
 * fails. Events are batched by the SDK and flushed in the background and on shutdown.
 */
import { redactDeep } from '../safety/redact.js';
import type { Langfuse } from 'langfuse';
import type { Logger } from '../core/logger.js';
import type { Evaluation } from './graders/pipeline.js';

export interface TracingConfig {
  publicKey: string;
  secretKey: string;
  host: string;
}

export interface RunTrace {
  operation: string;
  actor: string;
  prompt: string;
  output: string;
  provider?: string | undefined;
  model?: string | undefined;
  usage?: { input_tokens: number; output_tokens: number } | undefined;
  cost_usd?: number | undefined;
  latency_ms?: number | undefined;
  error?: string | undefined;
  evaluation?: Evaluation | undefined;
}

export interface Tracer {
  readonly enabled: boolean;
  /** Records a run; returns its trace id (undefined when tracing is off). */
  trace(run: RunTrace): Promise<string | undefined>;
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

const noTracer: Tracer = {
  enabled: false,
  trace: () => Promise.resolve(undefined),
  flush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
};

/**
 * @param redact applied to everything sent (prompt, output, errors, grader reasons): secrets typed
 *   into prompts or outputs never leave the machine in a trace.
 */
export function createTracer(
  config: TracingConfig | undefined,
  logger: Logger,
  redact: (text: string) => string = (t) => t,
): Tracer {
  if (!config) return noTracer;
  let client: Promise<Langfuse> | undefined;
  const get = () =>
    (client ??= import('langfuse').then((m) => {
      const lf = new m.Langfuse({
        publicKey: config.publicKey,
        secretKey: config.secretKey,
        baseUrl: config.host,
        flushAt: 20,
        flushInterval: 5_000,
        requestTimeout: 5_000,
        fetchRetryCount: 2,
      });
      lf.on('error', (error: unknown) => logger.warn('langfuse error', { error: String(error) }));
      return lf;
    }));
  return {
    enabled: true,
    async trace(raw) {
      try {
        const run = redactDeep(raw, redact);
        const lf = await get();
        const end = new Date();
        const start = new Date(end.getTime() - (run.latency_ms ?? 0));
        const trace = lf.trace({
          name: run.operation,
          userId: run.actor,
          input: { prompt: run.prompt },
          output: run.output,
          metadata: { provider: run.provider, model: run.model, ...(run.error ? { error: run.error } : {}) },
        });
        trace.generation({
          name: 'llm',
          ...(run.model ? { model: run.model } : {}),
          input: run.prompt,
          output: run.output,
          startTime: start,
          endTime: end,
          ...(run.usage
            ? { usageDetails: { input: run.usage.input_tokens, output: run.usage.output_tokens } }
            : {}),
          ...(run.cost_usd !== undefined ? { costDetails: { total: run.cost_usd } } : {}),
          ...(run.error ? { level: 'ERROR' as const, statusMessage: run.error } : {}),
          metadata: { provider: run.provider },
        });
        for (const g of run.evaluation?.graders ?? []) {
          trace.score({ name: g.grader, value: g.score, comment: g.reason.slice(0, 500) });
        }
        if (run.evaluation)
          trace.score({
            name: 'eval/overall',
            value: run.evaluation.score,
            comment: run.evaluation.pass ? 'pass' : `fail: ${run.evaluation.failure_type ?? ''}`,
          });
        return trace.id;
      } catch (error) {
        logger.warn('langfuse trace failed', { error });
        return undefined;
      }
    },
    async flush() {
      if (client)
        await (
          await client
        )
          .flushAsync()
          .catch((error: unknown) => logger.warn('langfuse flush failed', { error }));
    },
    async shutdown() {
      if (client)
        await (
          await client
        )
          .shutdownAsync()
          .catch((error: unknown) => logger.warn('langfuse shutdown failed', { error }));
    },
  };
}
