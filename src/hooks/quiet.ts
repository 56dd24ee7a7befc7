/**
 * The cold hook's shortest way (no server answered): most events end in "nothing to add", and
 * that can be told from files alone, without the configuration table, the storage layer or the
 * handlers (each costs a hook process more than starting node does). A prompt that matches no
 * remembered failure (read from the memory's match index, immune/matchIndex.ts) and a command
 * with no failure of its kind waiting in its session end here, and so does a command the guard
 * lets through that resembles no earlier failing one. Anything else, and any file that is
 * missing, stale or unreadable, goes the full way (handlers.ts), which answers the same events alike.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { IMMUNE_DEFAULTS } from '../immune/assessment.js';
import { INJECTION } from '../immune/guardrails.js';
import { MatchIndex } from '../immune/matchIndex.js';
import { PACKAGE_PATHS } from '../config/packagePaths.js';
import { commandKind, earlierCommand, WRITE_TOOLS } from './events.js';
import type { HookInput } from './events.js';
import type { HookSessionDoc } from './sessions.js';

/** The prompt matches nothing remembered and holds no injection marker (the handler adds nothing then). */
function promptIsQuiet(input: HookInput, stateDir: string): boolean {
  const prompt = (input.prompt ?? '').slice(0, 20_000);
  if (!prompt.trim()) return true;
  if (INJECTION.some((re) => re.test(prompt))) return false;
  const index = MatchIndex.open(path.join(stateDir, 'events', 'immune'));
  if (!index) return false;
  try {
    return index.rank(prompt, IMMUNE_DEFAULTS.matchThreshold, 5).length === 0;
  } finally {
    index.close();
  }
}

/** No failure of this command's kind waits in its session (the handler then has no lesson to learn). */
function commandIsQuiet(input: HookInput, stateDir: string): boolean {
  if (input.tool_name !== 'Bash' || !input.session_id) return true;
  const command = input.tool_input?.command;
  if (typeof command !== 'string') return true;
  const file = path.join(stateDir, 'hook-sessions.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    // No sessions document: nothing waits, unless a backup would stand in for it.
    return !existsSync(`${file}.bak`);
  }
  let doc: Partial<HookSessionDoc>;
  try {
    doc = JSON.parse(text) as Partial<HookSessionDoc>;
  } catch {
    return false;
  }
  const pending = doc.sessions?.[input.session_id]?.pending;
  if (pending === undefined) return true;
  if (!Array.isArray(pending)) return false;
  const kind = commandKind(command);
  return !pending.some((p) => p?.kind === kind);
}

/**
 * A command the guard lets through (the same classifier, loading the grammar only for a command
 * that is not plain) that resembles no earlier failing command: the handler answers nothing then.
 */
async function commandIsSafe(input: HookInput, projectDir: string, stateDir: string): Promise<boolean> {
  const command = input.tool_input?.command;
  if (WRITE_TOOLS.has(input.tool_name ?? '')) return false;
  if (input.tool_name !== 'Bash' || typeof command !== 'string' || !command.trim()) return true;
  const { OperationClassifier } = await import('../safety/classifier.js');
  const classifier = await OperationClassifier.load(PACKAGE_PATHS.dataDir, stateDir, {
    projectDir,
    cliPath: PACKAGE_PATHS.cliPath,
    grammar: 'when-needed',
  });
  const cwd = typeof input.cwd === 'string' && path.isAbsolute(input.cwd) ? input.cwd : projectDir;
  if ((await classifier.classifyShellLoaded(command, { cwd })).verdict !== 'SAFE') return false;
  const index = MatchIndex.open(path.join(stateDir, 'events', 'immune'));
  if (!index) return false;
  try {
    return !index
      .rank(command, IMMUNE_DEFAULTS.matchThreshold, 5)
      .some((r) => earlierCommand({ ...r.p, similarity: r.similarity }));
  } finally {
    index.close();
  }
}

/**
 * True when the event's full handling would add nothing and record nothing; false when it must
 * run (or this cannot tell).
 */
export async function quietWithoutServer(
  event: string,
  input: HookInput,
  projectDir: string,
  stateDir: string,
): Promise<boolean> {
  try {
    if (event === 'UserPromptSubmit') return promptIsQuiet(input, stateDir);
    if (event === 'PostToolUse') return commandIsQuiet(input, stateDir);
    if (event === 'PreToolUse') return await commandIsSafe(input, projectDir, stateDir);
  } catch {
    // whatever went wrong here, the full way decides
  }
  return false;
}
