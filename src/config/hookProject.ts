/**
 * Where a Claude Code hook event belongs, read before anything else loads: the hook's warm path
 * (a socket to the running server) needs only this, so it stays free of the configuration table.
 */
import path from 'node:path';

/**
 * The project a Claude Code hook event is about: CLAUDE_PROJECT_DIR (Claude Code sets it for every
 * hook; the session's folder, wherever its shell has moved since), else the event's cwd.
 */
export function hookProjectDir(
  env: Record<string, string | undefined>,
  eventCwd: string | undefined,
): string {
  const fromClaude = env.CLAUDE_PROJECT_DIR?.trim();
  if (fromClaude && path.isAbsolute(fromClaude)) return path.resolve(fromClaude);
  if (eventCwd && path.isAbsolute(eventCwd)) return path.resolve(eventCwd);
  return process.cwd();
}
