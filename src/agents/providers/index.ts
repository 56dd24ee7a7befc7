/** Builds the providers configured in the environment (a provider without a key is absent). */
import type { ProviderConfig } from '../../config/config.js';
import { createAnthropicProvider } from './anthropic.js';
import { createClaudeCodeProvider } from './claudeCode.js';
import { createGeminiProvider } from './gemini.js';
import { createOpenAiProvider } from './openai.js';
import type { ExecBoundary } from '../../safety/exec.js';
import type { LlmProvider } from './types.js';

export interface ProviderDeps {
  /** Runs the claude CLI for the keyless provider. */
  boundary: ExecBoundary;
  /** The project folder (where the claude CLI runs). */
  cwd: string;
}

export function createProviders(configs: readonly ProviderConfig[], deps: ProviderDeps): LlmProvider[] {
  return configs.map((c) => {
    switch (c.name) {
      case 'openai':
        return createOpenAiProvider({ apiKey: c.apiKey, baseUrl: c.baseUrl });
      case 'gemini':
        return createGeminiProvider({ apiKey: c.apiKey, baseUrl: c.baseUrl });
      case 'anthropic':
        return createAnthropicProvider({ apiKey: c.apiKey, baseUrl: c.baseUrl });
      case 'claude-code':
        return createClaudeCodeProvider({ command: c.command, env: c.env, ...deps });
    }
  });
}
