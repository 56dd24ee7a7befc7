/**
 * Runs the commands the server is asked to run (run_with_error_capture, scheduled jobs, approved
 * inbox items, task command gates), in this order: the operation classifier (BLOCKED never runs;
 * REQUIRES_APPROVAL goes to the inbox unless a human approved it), the command policy (program,
 * subcommand, every option and operand; paths inside the project), then, only when execution is
 * turned on, the exec boundary. With execution off nothing runs: commands are dry runs, gates
 * report "not run".
 */
import type { GateRun } from '../tasks/gates.js';
import path from 'node:path';
import { AppError } from '../core/errors.js';
import type { Classification, OperationClassifier } from './classifier.js';
import type { CommandPolicy, PolicyProfile } from './commandPolicy.js';
import type { ExecBoundary, ExecResult } from './exec.js';
import { resolveInside } from './paths.js';

export type { ExecBoundary, ExecResult } from './exec.js';

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
  /** The MCP session that asked (so it cannot approve its own request). */
  session?: string | undefined;
}

export interface ApprovalSink {
  /** Files the request in the inbox; returns the item id. */
  request(item: {
    kind: 'command';
    requested_by: string;
    requested_session?: string | undefined;
    summary: string;
    payload: { command: string; args: string[]; cwd?: string | undefined; timeout_s?: number | undefined };
    classification: Classification;
  }): Promise<string>;
}

export interface CommandRunnerOptions {
  classifier: OperationClassifier;
  policy: CommandPolicy;
  boundary: ExecBoundary;
  /** false: nothing runs (the default until TASK_ORCHESTRATOR_EXECUTE=on). */
  execute: boolean;
  projectDir: string;
  stateDir: string;
  maxOutputBytes: number;
}

export interface GateSpec {
  command: string;
  args: string[];
  timeout_s: number;
}

const tailOf = (s: string) => s.trim().split('\n').slice(-15).join('\n').slice(-2000);

export class CommandRunner {
  constructor(private readonly options: CommandRunnerOptions) {}

  get executes(): boolean {
    return this.options.execute;
  }

  classify(command: string, args: readonly string[]): Classification {
    return this.options.classifier.classify([command, ...args]);
  }

  private cwd(input: string | undefined): Promise<string> {
    return resolveInside([this.options.projectDir], input ?? '.', {
      exclude: [this.options.stateDir],
      what: 'Working folder',
    });
  }

  /**
   * Checks a command against the classifier and the policy without running it.
   * @throws AppError INVALID_INPUT with the reason and what is allowed.
   */
  async vet(
    command: string,
    args: readonly string[],
    profile: PolicyProfile,
    cwdInput?: string,
  ): Promise<{ cwd: string; classification: Classification }> {
    const line = [command, ...args].join(' ');
    const classification = this.classify(command, args);
    const first = classification.matches[0];
    const refuseRisky = () =>
      new AppError(
        'INVALID_INPUT',
        `Gate \`${line}\` is ${classification.verdict === 'BLOCKED' ? 'blocked' : 'risky (needs approval)'}: ${first?.reason ?? ''}`,
        { hint: 'Gates run unattended; use a command that only checks (tests, lint, build)' },
      );
    if (profile === 'gate' && classification.verdict === 'BLOCKED') throw refuseRisky();
    const cwd = await this.cwd(cwdInput);
    const verdict = await this.options.policy.check([command, ...args], { cwd, profile });
    if (!verdict.ok)
      throw new AppError('INVALID_INPUT', `\`${line}\` is not allowed: ${verdict.reason}`, {
        hint: verdict.hint,
      });
    if (profile === 'gate' && classification.verdict !== 'SAFE') throw refuseRisky();
    return { cwd, classification };
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
    let cwd: string;
    try {
      cwd = await this.cwd(req.cwd);
    } catch (error) {
      if (error instanceof AppError)
        return {
          ...base,
          status: 'not_allowed',
          message: `${error.message}${error.hint ? `. ${error.hint}` : ''}`,
        };
      throw error;
    }
    const verdict = await this.options.policy.check([req.command, ...req.args], { cwd, profile: 'command' });
    if (!verdict.ok)
      return { ...base, status: 'not_allowed', message: `Not allowed: ${verdict.reason}. ${verdict.hint}` };
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
        requested_session: req.session,
        summary: line.slice(0, 200),
        // The resolved folder, so whoever approves it runs it where it was asked for (or nowhere:
        // a server of another project refuses a folder outside its own).
        payload: { command: req.command, args: req.args, cwd, timeout_s: req.timeoutS },
        classification,
      });
      return {
        ...base,
        status: 'needs_approval',
        action_id: id,
        message: `Needs approval (${classification.matches.map((m) => m.reason).join('; ')}): filed as ${id}. A human approves it with \`task-orchestrator approve ${id}\` in a terminal (or through approve_action when the client can ask the user)`,
      };
    }
    if (!this.options.execute)
      return {
        ...base,
        status: 'dry_run',
        message: `Dry run: would run \`${line}\` in ${path.relative(this.options.projectDir, cwd) || '.'}. Set TASK_ORCHESTRATOR_EXECUTE=on to run allowed commands.`,
      };
    const started = Date.now();
    const result = await this.options.boundary.run({
      file: req.command,
      args: req.args,
      cwd,
      timeoutMs: Math.min(600, req.timeoutS ?? 60) * 1000,
      maxBytes: this.options.maxOutputBytes,
    });
    if (result.spawn_error) result.stderr = `${result.stderr}${result.spawn_error}`;
    return {
      ...base,
      status: 'executed',
      result: { ...result, duration_ms: Date.now() - started },
      message: `Ran \`${line}\`: ${result.timed_out ? 'timed out' : `exit ${result.exit_code ?? result.signal}`}${result.truncated ? ' (output truncated)' : ''}`,
    };
  }

  /** Runs a task's command gate: vetted again, not run while execution is off. Never throws. */
  async runGate(gate: GateSpec, signal?: AbortSignal): Promise<GateRun> {
    const label = [gate.command, ...gate.args].join(' ');
    const started = Date.now();
    const notRun = (why: string): GateRun => ({
      gate: label,
      ok: false,
      status: 'not_run',
      exit_code: null,
      duration_ms: 0,
      output_tail: `not run: ${why}`,
    });
    let cwd: string;
    try {
      ({ cwd } = await this.vet(gate.command, gate.args, 'gate'));
    } catch (error) {
      return notRun(error instanceof AppError ? error.message : String(error));
    }
    if (!this.options.execute)
      return notRun(
        'execution off (TASK_ORCHESTRATOR_EXECUTE=on runs gates; a human can waive them with `task-orchestrator waive-gates`)',
      );
    const r = await this.options.boundary.run({
      file: gate.command,
      args: gate.args,
      cwd,
      timeoutMs: gate.timeout_s * 1000,
      maxBytes: 4 * 1024 * 1024,
      ...(signal ? { signal } : {}),
    });
    const ok = r.exit_code === 0 && !r.timed_out && !r.spawn_error;
    const note = r.spawn_error ?? (r.timed_out ? `timed out after ${gate.timeout_s} s` : '');
    const tail = tailOf(`${r.stdout}${r.stderr}`);
    return {
      gate: label,
      ok,
      status: ok ? 'passed' : 'failed',
      exit_code: r.exit_code,
      duration_ms: Date.now() - started,
      output_tail: note ? `${note}${tail ? `\n${tail}` : ''}` : tail,
    };
  }
}
