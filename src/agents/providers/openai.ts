/** OpenAI chat completions and embeddings, and any OpenAI-compatible server (Ollama, vLLM, LM Studio, LiteLLM) via baseUrl. */
import type OpenAI from 'openai';
import { required, runCall, runTimed, vectorsOf } from './call.js';
import type { EmbedRequest, EmbedResult, LlmProvider, LlmRequest, LlmResult, ModelList } from './types.js';

export interface OpenAiProviderOptions {
  apiKey: string;
  baseUrl?: string | undefined;
}

export function createOpenAiProvider(options: OpenAiProviderOptions): LlmProvider {
  let client: Promise<OpenAI> | undefined;
  const getClient = () =>
    (client ??= import('openai').then(
      // maxRetries 0: our healing layer is the only one that retries.
      (m) => new m.default({ apiKey: options.apiKey, baseURL: options.baseUrl, maxRetries: 0 }),
    ));
  return {
    name: 'openai',
    async generate(request: LlmRequest): Promise<LlmResult> {
      const openai = await getClient();
      return runCall(request, async (signal) => {
        const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [];
        if (request.system) messages.push({ role: 'system', content: request.system });
        messages.push({ role: 'user', content: request.prompt });
        const completion = await openai.chat.completions.create(
          {
            model: request.model,
            messages,
            ...(request.maxTokens !== undefined ? { max_completion_tokens: request.maxTokens } : {}),
            ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
            ...(request.jsonSchema
              ? {
                  response_format: {
                    type: 'json_schema',
                    json_schema: { name: 'output', schema: request.jsonSchema },
                  },
                }
              : {}),
          },
          { signal, timeout: request.timeoutMs, maxRetries: 0 },
        );
        const choice = required(completion.choices?.[0], 'choices[0]');
        const usage = required(completion.usage, 'usage');
        return {
          text: choice.message?.content ?? '',
          usage: { input_tokens: usage.prompt_tokens, output_tokens: usage.completion_tokens },
          model: completion.model ?? request.model,
          ...(choice.finish_reason ? { finish_reason: choice.finish_reason } : {}),
        };
      });
    },
    async listModels(request: { timeoutMs: number; signal?: AbortSignal }): Promise<ModelList> {
      const openai = await getClient();
      const r = await runTimed(request, async (signal) => {
        const models: string[] = [];
        // One page is what a local server (Ollama, vLLM, LM Studio) has; a proxy's list is capped.
        const page = await openai.models.list({ signal, timeout: request.timeoutMs, maxRetries: 0 });
        for (const m of page.data ?? []) {
          if (typeof m.id === 'string' && m.id.length <= 200) models.push(m.id);
          if (models.length >= 500) break;
        }
        return models;
      });
      return r.ok ? { ok: true, models: r.value, latency_ms: r.latency_ms } : r;
    },
    async embed(request: EmbedRequest): Promise<EmbedResult> {
      const openai = await getClient();
      const r = await runTimed(request, async (signal) => {
        // The SDK asks for base64 and decodes it (4 bytes a number instead of ~20 characters).
        const answer = await openai.embeddings.create(
          { model: request.model, input: [...request.texts] },
          { signal, timeout: request.timeoutMs, maxRetries: 0 },
        );
        const data = [...required(answer.data, 'data')].sort((a, b) => a.index - b.index);
        return {
          vectors: vectorsOf(
            data.map((d) => d.embedding),
            request.texts.length,
          ),
          input_tokens: answer.usage?.prompt_tokens ?? 0,
          model: answer.model ?? request.model,
        };
      });
      return r.ok ? { ok: true, ...r.value, latency_ms: r.latency_ms } : r;
    },
  };
}
