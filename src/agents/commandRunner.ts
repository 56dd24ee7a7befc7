/**
 * Runs commands the server is asked to run (run_with_error_capture, scheduled jobs, approved inbox
 * items), in this order: the operation classifier (BLOCKED never runs; REQUIRES_APPROVAL goes to
 * the inbox unless already approved), the allowlist of programs (no interpreters or network tools
 * by default), then, only when execution is turned on, the exec boundary: execFile without a
 * shell, inside the project, with a timeout and capped output. Otherwise it is a dry run that says
 * what would have run.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { resolveInside } from '../core/pathValidation.js';
import type { Classification, OperationClassifier } from './operations.js';

export interface ExecResult {
  exit_code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  timed_out: boolean;
  truncated: boolean;
}

/** The one place a program is started. Tests replace it with a spy. */
export interface ExecBoundary {
  run(
    file: string,
    args: readonly string[],
    options: { cwd: string; timeoutMs: number; maxBytes: number },
  ): Promise<ExecResult>;
}

export const execFileBoundary: ExecBoundary = {
  run(file, args, { cwd, timeoutMs, maxBytes }) {
    return new Promise((resolve) => {
      execFile(
        file,
        [...args],
        {
          cwd,
          timeout: timeoutMs,
          maxBuffer: maxBytes,
          shell: false,
          killSignal: 'SIGKILL',
          windowsHide: true,
        },
        (error, stdout, stderr) => {
          const e = error as
            (NodeJS.ErrnoException & { code?: number | string; killed?: boolean; signal?: string }) | null;
          const truncated = e?.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER';
          resolve({
            exit_code: e ? (typeof e.code === 'number' ? e.code : null) : 0,
            signal: e?.signal ?? null,
            stdout: String(stdout),
            stderr:
              e && typeof e.code === 'string' && !truncated
                ? `${String(stderr)}${e.message}`
                : String(stderr),
            timed_out: Boolean(e?.killed && e.signal === 'SIGKILL' && !truncated),
            truncated,
          });
        },
      );
    });
  },
};

export type RunStatus = 'executed' | 'dry_run' | 'blocked' | 'needs_approval' | 'not_allowed';

export interface RunOutcome {
  status: RunStatus;
  command: string;
  args: string[];
  classification: Classification;
  message: string;
  action_id?: string;
  result?: ExecResult & { duration_ms: number };
}

export interface RunRequest {
  command: string;
  args: string[];
  cwd?: string | undefined;
  timeoutS?: number | undefined;
  actor: string;
}

export interface ApprovalSink {
  /** Files the request in the inbox; returns the item id. */
  request(item: {
    kind: 'command';
    requested_by: string;
    summary: string;
    payload: { command: string; args: string[]; cwd?: string | undefined; timeout_s?: number | undefined };
    classification: Classification;
  }): Promise<string>;
}

export interface CommandRunnerOptions {
  classifier: OperationClassifier;
  boundary: ExecBoundary;
  allowlist: readonly string[];
  /** false: dry run only (the default until TASK_ORCHESTRATOR_EXECUTE=on). */
  execute: boolean;
  projectDir: string;
  maxOutputBytes: number;
}

export class CommandRunner {
  constructor(private readonly options: CommandRunnerOptions) {}

  get executes(): boolean {
    return this.options.execute;
  }

  classify(command: string, args: readonly string[]): Classification {
    return this.options.classifier.classify([command, ...args]);
  }

  /** Runs (or refuses, files for approval, or dry-runs) one command. */
  async run(req: RunRequest, inbox: ApprovalSink | undefined, approved = false): Promise<RunOutcome> {
    const classification = this.classify(req.command, req.args);
    const base = { command: req.command, args: req.args, classification };
    const line = [req.command, ...req.args].join(' ');
    if (classification.verdict === 'BLOCKED')
      return {
        ...base,
        status: 'blocked',
        message: `Blocked: ${classification.matches[0]!.reason} (rule ${classification.matches[0]!.rule}). It will not run.`,
      };
    const program = path.basename(req.command);
    if (!this.options.allowlist.includes(program) || program !== req.command)
      return {
        ...base,
        status: 'not_allowed',
        message: `"${req.command}" is not an allowed program (allowed: ${this.options.allowlist.join(', ')})`,
      };
    if (classification.verdict === 'REQUIRES_APPROVAL' && !approved) {
      if (!inbox)
        return {
          ...base,
          status: 'needs_approval',
          message: `Needs approval: ${classification.matches[0]!.reason}`,
        };
      const id = await inbox.request({
        kind: 'command',
        requested_by: req.actor,
        summary: line.slice(0, 200),
        payload: { command: req.command, args: req.args, cwd: req.cwd, timeout_s: req.timeoutS },
        classification,
      });
      return {
        ...base,
        status: 'needs_approval',
        action_id: id,
        message: `Needs approval (${classification.matches.map((m) => m.reason).join('; ')}): filed as ${id}; approve_action runs it once approved`,
      };
    }
    const cwd = await resolveInside([this.options.projectDir], req.cwd ?? '.');
    if (!this.options.execute)
      return {
        ...base,
        status: 'dry_run',
        message: `Dry run: would run \`${line}\` in ${cwd}. Set TASK_ORCHESTRATOR_EXECUTE=on to run allowed commands.`,
      };
    const started = Date.now();
    const result = await this.options.boundary.run(req.command, req.args, {
      cwd,
      timeoutMs: Math.min(600, req.timeoutS ?? 60) * 1000,
      maxBytes: this.options.maxOutputBytes,
    });
    return {
      ...base,
      status: 'executed',
      result: { ...result, duration_ms: Date.now() - started },
      message: `Ran \`${line}\`: ${result.timed_out ? 'timed out' : `exit ${result.exit_code ?? result.signal}`}${result.truncated ? ' (output truncated)' : ''}`,
    };
  }
}
