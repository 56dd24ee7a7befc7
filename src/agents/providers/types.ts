/**
 * One interface for every LLM provider. Failures come back as data with a stable code (the
 * healing layer decides what to retry from it), never as throws.
 */

export interface LlmRequest {
  model: string;
  prompt: string;
  system?: string;
  maxTokens?: number;
  temperature?: number;
  /** Ask for JSON matching this schema where the provider supports structured output. */
  jsonSchema?: Record<string, unknown>;
  /** Cancels the call (client cancellation, deadline). */
  signal?: AbortSignal;
  /** Per-call timeout; the request is aborted when it passes. */
  timeoutMs: number;
}

export interface Usage {
  input_tokens: number;
  output_tokens: number;
}

export type ProviderErrorCode =
  | 'timeout'
  | 'aborted'
  | 'rate_limited'
  | 'server_error'
  | 'bad_request'
  | 'auth'
  | 'not_found'
  | 'network'
  | 'malformed_response'
  | 'unknown';

export interface ProviderError {
  code: ProviderErrorCode;
  message: string;
  status?: number;
  /** From a Retry-After header, when the provider sent one. */
  retry_after_ms?: number;
}

export type LlmResult =
  | {
      ok: true;
      text: string;
      usage: Usage;
      latency_ms: number;
      model: string;
      finish_reason?: string;
      /** Cost the provider itself reported (the claude CLI does); preferred over list prices. */
      cost_usd?: number;
    }
  | { ok: false; error: ProviderError; latency_ms: number };

export type { ProviderName } from '../../config/defaults.js';
import type { ProviderName } from '../../config/defaults.js';

export interface EmbedRequest {
  model: string;
  texts: readonly string[];
  signal?: AbortSignal;
  timeoutMs: number;
}

export type EmbedResult =
  | { ok: true; vectors: Float32Array[]; input_tokens: number; model: string; latency_ms: number }
  | { ok: false; error: ProviderError; latency_ms: number };

export interface LlmProvider {
  readonly name: ProviderName;
  generate(request: LlmRequest): Promise<LlmResult>;
  /** Embeddings, where the provider has them (OpenAI and compatible servers, Gemini). */
  embed?(request: EmbedRequest): Promise<EmbedResult>;
  /** The models its endpoint serves (an OpenAI-compatible server's GET /v1/models). */
  listModels?(request: { timeoutMs: number; signal?: AbortSignal }): Promise<ModelList>;
}

export type ModelList =
  | { ok: true; models: string[]; latency_ms: number }
  | { ok: false; error: ProviderError; latency_ms: number };

/** Whether a failure is worth retrying (the healing layer's retry policy builds on this). */
export function isTransient(error: ProviderError): boolean {
  return ['timeout', 'rate_limited', 'server_error', 'network'].includes(error.code);
}
