/**
 * Whether a person at their own terminal runs this process: the condition for the human's channel
 * (`approve`, `reject`, `waive-gates`, and the review desk's session link). A terminal alone proves
 * nothing (`script -qfc CMD /dev/null` gives any process one), so the process must also not run
 * inside Claude Code: not with Claude Code's variables in its environment, and not below a
 * Claude Code process or a process that has them (the agent's shell), however many pty wrappers
 * stand between. What this cannot see is a process the agent detached from its own tree and
 * stripped of those variables: the PreToolUse guard denies the commands that would start one
 * (see the README's Security model).
 */
import { readFileSync } from 'node:fs';

export type PersonCheck = { ok: true } | { ok: false; reason: string };

export interface PersonCheckOptions {
  stdinIsTTY: boolean;
  stdoutIsTTY: boolean;
  /** config.insideClaudeCode: Claude Code's variables are in this process's environment. */
  insideClaudeCode: boolean;
  /** This process's id. Default process.pid. */
  pid?: number;
  /** Reads a /proc file; undefined when it cannot be read. Default: the real file system. */
  readProc?: (file: string) => string | undefined;
}

const CLAUDE_VARIABLE = /(^|\0)(CLAUDECODE|CLAUDE_CODE_SESSION_ID|CLAUDE_CODE_ENTRYPOINT|CLAUDE_PID)=/;
const CLAUDE_PROGRAM = /^claude(\.exe)?$/;
const MAX_ANCESTORS = 64;

function readProcFile(file: string): string | undefined {
  try {
    return readFileSync(file, 'latin1');
  } catch {
    return undefined;
  }
}

/** The parent of a process from /proc/<pid>/stat (the field after the parenthesised name). */
function parentOf(stat: string): number | undefined {
  const close = stat.lastIndexOf(')');
  const fields = stat.slice(close + 2).split(' ');
  const ppid = Number(fields[1]);
  return Number.isInteger(ppid) && ppid > 0 ? ppid : undefined;
}

/**
 * Decides whether this process may act as the person. On systems without /proc the ancestry is
 * not looked at (only the terminal and this process's own environment are).
 */
export function checkPerson(options: PersonCheckOptions): PersonCheck {
  if (!options.stdinIsTTY || !options.stdoutIsTTY)
    return {
      ok: false,
      reason: 'stdin and stdout must be a terminal (a program without one, such as an agent, cannot decide)',
    };
  if (options.insideClaudeCode)
    return {
      ok: false,
      reason:
        "it runs inside Claude Code (its variables are set): run it in a terminal of your own, not through Claude Code's shell",
    };
  const read = options.readProc ?? readProcFile;
  let pid: number | undefined = options.pid ?? process.pid;
  for (let hops = 0; pid !== undefined && pid > 1 && hops < MAX_ANCESTORS; hops++) {
    const stat = read(`/proc/${pid}/stat`);
    if (stat === undefined) break;
    const name = (read(`/proc/${pid}/comm`) ?? '').trim();
    if (hops > 0 && CLAUDE_PROGRAM.test(name))
      return {
        ok: false,
        reason: `it runs below Claude Code (process ${pid}, ${name}): run it in a terminal of your own`,
      };
    const environ = read(`/proc/${pid}/environ`);
    if (hops > 0 && environ !== undefined && CLAUDE_VARIABLE.test(environ))
      return {
        ok: false,
        reason: `it runs below a process started by Claude Code (process ${pid}, ${name}): run it in a terminal of your own`,
      };
    pid = parentOf(stat);
  }
  return { ok: true };
}
