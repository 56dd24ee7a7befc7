/**
 * The keyless provider for Claude Code users without an API key: the user's own `claude` CLI in
 * print mode (`claude -p --output-format json`), prompt on stdin, answer, usage and cost parsed
 * from its JSON result. Cancellation and the deadline kill the process.
 */
import { spawn } from 'node:child_process';
import { runCall } from './call.js';
import type { LlmProvider, LlmRequest, LlmResult } from './types.js';

export interface ClaudeCodeProviderOptions {
  /** The claude executable (absolute path). */
  command: string;
}

const MAX_STDOUT = 16 * 1024 * 1024;

interface CliResult {
  type?: string;
  is_error?: boolean;
  result?: string;
  total_cost_usd?: number;
  usage?: {
    input_tokens?: number;
    output_tokens?: number;
    cache_creation_input_tokens?: number;
    cache_read_input_tokens?: number;
  };
  modelUsage?: Record<string, unknown>;
}

class CliError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export function createClaudeCodeProvider(options: ClaudeCodeProviderOptions): LlmProvider {
  return {
    name: 'claude-code',
    generate(request: LlmRequest): Promise<LlmResult> {
      return runCall(
        request,
        (signal) =>
          new Promise((resolve, reject) => {
            const args = ['-p', '--output-format', 'json'];
            if (request.model && request.model !== 'default') args.push('--model', request.model);
            if (request.system) args.push('--append-system-prompt', request.system);
            const child = spawn(options.command, args, {
              signal,
              stdio: ['pipe', 'pipe', 'pipe'],
              windowsHide: true,
            });
            let stdout = '';
            let stderr = '';
            child.stdout.setEncoding('utf8');
            child.stderr.setEncoding('utf8');
            child.stdout.on('data', (d: string) => {
              if (stdout.length < MAX_STDOUT) stdout += d;
            });
            child.stderr.on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
            child.on('error', reject);
            child.stdin.on('error', () => {});
            child.stdin.end(request.prompt);
            child.on('close', (code) => {
              let parsed: CliResult | undefined;
              try {
                parsed = JSON.parse(stdout.trim()) as CliResult;
              } catch {
                // handled below
              }
              const text = parsed?.result ?? '';
              if (code !== 0 || parsed?.is_error) {
                const why = `${text || stderr || `claude exited with code ${code}`}`.slice(0, 500);
                // Not logged in / no credentials: the user's fault, not the provider's health.
                const status = /log ?in|auth|api key|credential/i.test(why) ? 401 : 500;
                reject(new CliError(`claude CLI: ${why}`, status));
                return;
              }
              if (!parsed || typeof parsed.result !== 'string' || !parsed.usage) {
                reject(new SyntaxError(`malformed response from claude CLI: ${stdout.slice(0, 200)}`));
                return;
              }
              const u = parsed.usage;
              resolve({
                text: parsed.result,
                usage: {
                  input_tokens:
                    (u.input_tokens ?? 0) +
                    (u.cache_creation_input_tokens ?? 0) +
                    (u.cache_read_input_tokens ?? 0),
                  output_tokens: u.output_tokens ?? 0,
                },
                model: Object.keys(parsed.modelUsage ?? {})[0] ?? request.model,
                ...(typeof parsed.total_cost_usd === 'number' ? { cost_usd: parsed.total_cost_usd } : {}),
              });
            });
          }),
      );
    },
  };
}
