/**
 * What a Claude Code hook process needs before anything else loads: where the event belongs and
 * whether hooks are on. The warm path (a socket to the running server) needs only this, so it
 * stays free of the configuration table; the full configuration is loaded only when the hook
 * process does the work itself (config.ts).
 */
import path from 'node:path';

export interface HookSettings {
  /** TASK_ORCHESTRATOR_HOOKS is not `off`. */
  enabled: boolean;
  /** TASK_ORCHESTRATOR_HOOK_GRADE as given (the server checks it). */
  hookGrade: string | undefined;
  /**
   * Inside `claude plugin eval` (CLAUDE_CODE_EVAL_CONFINED=1) a case may point the hooks at a memory
   * with EVAL_TASK_ORCHESTRATOR_HOME (only EVAL_* variables reach a confined run): they read it and
   * record nothing, and never ask a running server.
   */
  readOnly: boolean;
  /**
   * The stores are in a database (TASK_ORCHESTRATOR_DATABASE_URL): files in the state folder (the
   * match index) do not speak for them.
   */
  inDatabase: boolean;
  /** The project of an event: CLAUDE_PROJECT_DIR, else the event's cwd, else this process's. */
  projectDir(eventCwd: string | undefined): string;
  /** The state folder of a project (TASK_ORCHESTRATOR_HOME resolved against it). */
  stateDir(projectDir: string): string;
  /** The environment for loading the full configuration (never the claude CLI as a judge here). */
  configEnv(): Record<string, string | undefined>;
}

/** Reads the hook's settings from the environment (default: this process's). */
export function hookSettings(env: Record<string, string | undefined> = process.env): HookSettings {
  const evalHome =
    env.CLAUDE_CODE_EVAL_CONFINED === '1' ? env.EVAL_TASK_ORCHESTRATOR_HOME?.trim() : undefined;
  const readOnly = evalHome !== undefined && path.isAbsolute(evalHome);
  const home = readOnly ? evalHome : env.TASK_ORCHESTRATOR_HOME?.trim();
  return {
    enabled: env.TASK_ORCHESTRATOR_HOOKS?.trim().toLowerCase() !== 'off',
    hookGrade: env.TASK_ORCHESTRATOR_HOOK_GRADE?.trim().toLowerCase(),
    readOnly,
    inDatabase: Boolean(env.TASK_ORCHESTRATOR_DATABASE_URL?.trim()),
    projectDir: (eventCwd) => hookProjectDir(env, eventCwd),
    stateDir: (projectDir) => path.resolve(projectDir, home || '.task-orchestrator'),
    configEnv: () => ({
      ...env,
      TASK_ORCHESTRATOR_CLAUDE_CLI: 'off',
      ...(readOnly ? { TASK_ORCHESTRATOR_HOME: home } : {}),
    }),
  };
}

/**
 * The project a Claude Code hook event is about: CLAUDE_PROJECT_DIR (Claude Code sets it for every
 * hook; the session's folder, wherever its shell has moved since), else the event's cwd.
 */
function hookProjectDir(env: Record<string, string | undefined>, eventCwd: string | undefined): string {
  const fromClaude = env.CLAUDE_PROJECT_DIR?.trim();
  if (fromClaude && path.isAbsolute(fromClaude)) return path.resolve(fromClaude);
  if (eventCwd && path.isAbsolute(eventCwd)) return path.resolve(eventCwd);
  return process.cwd();
}
