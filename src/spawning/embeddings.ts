/** The failure memory's embedder, on the spawn pipeline (see immune/semantic.ts for the stage itself). */
import type { SpawnPipeline } from '../agents/spawn.js';
import type { Embedder } from '../immune/semantic.js';

/**
 * An embedder on the spawn pipeline (breaker, budget, usage): a query is asked once with a short
 * deadline (the check falls back to TF-IDF rather than wait), indexing with the usual retries.
 */
export function spawnEmbedder(
  spawn: Pick<SpawnPipeline, 'embed'>,
  provider: 'openai' | 'gemini',
  model: string,
): Embedder {
  return {
    model: `${provider}/${model}`,
    async embed(texts, purpose) {
      const r = await spawn.embed({
        provider,
        model,
        texts,
        operation: 'immune:embed',
        ...(purpose === 'query' ? { maxRetries: 0, timeoutMs: 5_000, deadlineMs: 5_000 } : {}),
      });
      return r.ok ? { ok: true, vectors: r.vectors } : { ok: false, error: r.error.message };
    },
  };
}
