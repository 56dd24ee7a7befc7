/**
 * The exec boundary: the one module that starts programs (a layer rule keeps child_process out of
 * every other file). It takes an argv, never a shell string; the child gets a minimal environment
 * (PATH, HOME, locale and the variables the user lists in TASK_ORCHESTRATOR_EXEC_ENV; never
 * npm_config_*, GIT_*, NODE_OPTIONS, MAKEFLAGS or LD_*), its own process
 * group (a timeout kills what it started too), a deadline and capped output. What may run is
 * decided before this, by the command policy and the classifier.
 */
import { spawn } from 'node:child_process';

export interface ExecRequest {
  /** Program name (looked up on PATH) or absolute path. */
  file: string;
  args: readonly string[];
  cwd: string;
  timeoutMs: number;
  /** Cap on stdout and on stderr; the child is killed when either passes it. */
  maxBytes: number;
  /** Written to the child's stdin (which is closed after it, or at once when absent). */
  input?: string;
  signal?: AbortSignal;
  /** Variables added to the minimal environment for this call (e.g. a provider's settings). */
  env?: Readonly<Record<string, string>>;
}

export interface ExecResult {
  exit_code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  timed_out: boolean;
  truncated: boolean;
  /** Set when the program could not be started (e.g. ENOENT: not on PATH). */
  spawn_error?: string;
}

/** The one place a program is started. Tests replace it with a spy. */
export interface ExecBoundary {
  run(request: ExecRequest): Promise<ExecResult>;
}

/** Never passed, even when the user names them: they change what a program loads or runs. */
const NEVER_PASSED =
  /^(NODE_OPTIONS|NPM_CONFIG_.*|npm_config_.*|GIT_.*|MAKEFLAGS|MFLAGS|MAKEFILES|LD_.*|DYLD_.*|PYTHONSTARTUP|PYTHONPATH|PYTHONHOME|PERL5OPT|RUBYOPT|BASH_ENV|ENV|SHELLOPTS|PROMPT_COMMAND)$/;

/** The environment a child starts with: `base` and `extra`, minus anything that changes how programs load code. */
function minimalEnv(
  base: Readonly<Record<string, string>>,
  extra: Readonly<Record<string, string>> = {},
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of [...Object.entries(base), ...Object.entries(extra)])
    if (!NEVER_PASSED.test(name)) env[name] = value;
  return env;
}

export interface ExecBoundaryOptions {
  /** What every child starts with (config.childEnv: PATH, HOME, locale... and TASK_ORCHESTRATOR_EXEC_ENV). */
  env: Readonly<Record<string, string>>;
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

export function createExecBoundary(options: ExecBoundaryOptions): ExecBoundary {
  return {
    run(req) {
      return new Promise((resolve) => {
        const env = minimalEnv(options.env, req.env);
        let stdout = '';
        let stderr = '';
        let truncated = false;
        let timedOut = false;
        let settled = false;
        const child = spawn(req.file, [...req.args], {
          cwd: req.cwd,
          env,
          shell: false,
          detached: true,
          windowsHide: true,
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        const finish = (result: Omit<ExecResult, 'stdout' | 'stderr' | 'timed_out' | 'truncated'>) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          req.signal?.removeEventListener('abort', onAbort);
          resolve({ ...result, stdout, stderr, timed_out: timedOut, truncated });
        };
        const timer = setTimeout(() => {
          timedOut = true;
          killGroup(child.pid);
        }, req.timeoutMs);
        const onAbort = () => killGroup(child.pid);
        req.signal?.addEventListener('abort', onAbort, { once: true });
        if (req.signal?.aborted) onAbort();
        const collect = (which: 'stdout' | 'stderr') => (chunk: Buffer) => {
          const text = chunk.toString('utf8');
          const current = which === 'stdout' ? stdout : stderr;
          if (current.length + text.length > req.maxBytes) {
            truncated = true;
            const room = Math.max(0, req.maxBytes - current.length);
            if (which === 'stdout') stdout += text.slice(0, room);
            else stderr += text.slice(0, room);
            killGroup(child.pid);
          } else if (which === 'stdout') stdout += text;
          else stderr += text;
        };
        child.stdout.on('data', collect('stdout'));
        child.stderr.on('data', collect('stderr'));
        child.stdin.on('error', () => {});
        child.stdin.end(req.input ?? '');
        child.on('error', (error: NodeJS.ErrnoException) => {
          finish({
            exit_code: null,
            signal: null,
            spawn_error: error.code === 'ENOENT' ? `${req.file} was not found on PATH` : error.message,
          });
        });
        child.on('close', (code, signal) => finish({ exit_code: code, signal }));
      });
    },
  };
}
