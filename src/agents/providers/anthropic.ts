/** Anthropic messages API. */
import type Anthropic from '@anthropic-ai/sdk';
import { required, runCall } from './call.js';
import type { LlmProvider, LlmRequest, LlmResult } from './types.js';

export interface AnthropicProviderOptions {
  apiKey: string;
  baseUrl?: string | undefined;
}

/** The messages API requires max_tokens; this is used when the caller gives none. */
const ANTHROPIC_DEFAULT_MAX_TOKENS = 4096;

export function createAnthropicProvider(options: AnthropicProviderOptions): LlmProvider {
  let client: Promise<Anthropic> | undefined;
  const getClient = () =>
    (client ??= import('@anthropic-ai/sdk').then(
      (m) =>
        new m.default({
          apiKey: options.apiKey,
          ...(options.baseUrl ? { baseURL: options.baseUrl } : {}),
          maxRetries: 0,
        }),
    ));
  return {
    name: 'anthropic',
    async generate(request: LlmRequest): Promise<LlmResult> {
      const anthropic = await getClient();
      return runCall(request, async (signal) => {
        const message = await anthropic.messages.create(
          {
            model: request.model,
            max_tokens: request.maxTokens ?? ANTHROPIC_DEFAULT_MAX_TOKENS,
            messages: [{ role: 'user', content: request.prompt }],
            ...(request.system ? { system: request.system } : {}),
            ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
          },
          { signal, timeout: request.timeoutMs, maxRetries: 0 },
        );
        const content = required(message.content, 'content');
        const usage = required(message.usage, 'usage');
        return {
          text: content.map((block) => (block.type === 'text' ? block.text : '')).join(''),
          usage: { input_tokens: usage.input_tokens, output_tokens: usage.output_tokens },
          model: message.model ?? request.model,
          ...(message.stop_reason ? { finish_reason: message.stop_reason } : {}),
        };
      });
    },
  };
}
