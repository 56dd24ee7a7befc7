/**
 * The keyless provider for Claude Code users without an API key: the user's own `claude` CLI in
 * print mode (`claude -p --output-format json`), prompt on stdin, answer, usage and cost parsed
 * from its JSON result. Cancellation and the deadline kill the process.
 */
import type { ExecBoundary } from '../../safety/exec.js';
import { runCall } from './call.js';
import type { LlmProvider, LlmRequest, LlmResult } from './types.js';

export interface ClaudeCodeProviderOptions {
  /** The claude executable (absolute path). */
  command: string;
  /** Where programs are started (the exec boundary: minimal environment, its own process group). */
  boundary: ExecBoundary;
  /** The folder it runs in (the project). */
  cwd: string;
  /** Its own settings (ANTHROPIC_*, CLAUDE_* variables) on top of the minimal environment. */
  env?: Readonly<Record<string, string>>;
}

/** The deadline and cancellation come from the caller's signal; this only bounds a lost one. */
const HARD_TIMEOUT_MS = 60 * 60 * 1000;

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
      return runCall(request, (signal) =>
        (async () => {
          const args = ['-p', '--output-format', 'json'];
          if (request.model && request.model !== 'default') args.push('--model', request.model);
          if (request.system) args.push('--append-system-prompt', request.system);
          const r = await options.boundary.run({
            file: options.command,
            args,
            cwd: options.cwd,
            timeoutMs: HARD_TIMEOUT_MS,
            maxBytes: MAX_STDOUT,
            input: request.prompt,
            signal,
            ...(options.env ? { env: options.env } : {}),
          });
          if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('aborted');
          if (r.spawn_error) throw new CliError(`claude CLI: ${r.spawn_error}`, 500);
          const stdout = r.stdout;
          const stderr = r.stderr.slice(-4000);
          const code = r.exit_code;
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
            throw new CliError(`claude CLI: ${why}`, status);
          }
          if (!parsed || typeof parsed.result !== 'string' || !parsed.usage)
            throw new SyntaxError(`malformed response from claude CLI: ${stdout.slice(0, 200)}`);
          const u = parsed.usage;
          return {
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
          };
        })(),
      );
    },
  };
}
