/** Gemini generateContent and embeddings through @google/genai. */
import type { GoogleGenAI } from '@google/genai';
import { required, runCall, runTimed, vectorsOf } from './call.js';
import type { EmbedRequest, EmbedResult, LlmProvider, LlmRequest, LlmResult } from './types.js';

export interface GeminiProviderOptions {
  apiKey: string;
  baseUrl?: string | undefined;
}

export function createGeminiProvider(options: GeminiProviderOptions): LlmProvider {
  let client: Promise<GoogleGenAI> | undefined;
  const getClient = () =>
    (client ??= import('@google/genai').then(
      (m) =>
        new m.GoogleGenAI({
          apiKey: options.apiKey,
          // attempts 1: the SDK would otherwise retry 5 times on its own; our healing layer retries.
          httpOptions: {
            ...(options.baseUrl ? { baseUrl: options.baseUrl } : {}),
            retryOptions: { attempts: 1 },
          },
        }),
    ));
  return {
    name: 'gemini',
    async generate(request: LlmRequest): Promise<LlmResult> {
      const ai = await getClient();
      return runCall(request, async (signal) => {
        const response = await ai.models.generateContent({
          model: request.model,
          contents: request.prompt,
          config: {
            abortSignal: signal,
            httpOptions: { timeout: request.timeoutMs, retryOptions: { attempts: 1 } },
            ...(request.system ? { systemInstruction: request.system } : {}),
            ...(request.maxTokens !== undefined ? { maxOutputTokens: request.maxTokens } : {}),
            ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
            ...(request.jsonSchema
              ? { responseMimeType: 'application/json', responseJsonSchema: request.jsonSchema }
              : {}),
          },
        });
        const candidate = required(response.candidates?.[0], 'candidates[0]');
        const usage = required(response.usageMetadata, 'usageMetadata');
        return {
          text: (candidate.content?.parts ?? []).map((p) => p.text ?? '').join(''),
          usage: {
            input_tokens: usage.promptTokenCount ?? 0,
            output_tokens: usage.candidatesTokenCount ?? 0,
          },
          model: response.modelVersion ?? request.model,
          ...(candidate.finishReason ? { finish_reason: String(candidate.finishReason) } : {}),
        };
      });
    },
    async embed(request: EmbedRequest): Promise<EmbedResult> {
      const ai = await getClient();
      const r = await runTimed(request, async (signal) => {
        const answer = await ai.models.embedContent({
          model: request.model,
          contents: [...request.texts],
          config: {
            abortSignal: signal,
            httpOptions: { timeout: request.timeoutMs, retryOptions: { attempts: 1 } },
          },
        });
        return {
          vectors: vectorsOf(
            required(answer.embeddings, 'embeddings').map((e) => e.values),
            request.texts.length,
          ),
          // The Gemini API reports no token count for embeddings: estimated, as for the budget.
          input_tokens: Math.ceil(request.texts.reduce((n, t) => n + t.length, 0) / 4),
          model: request.model,
        };
      });
      return r.ok ? { ok: true, ...r.value, latency_ms: r.latency_ms } : r;
    },
  };
}
