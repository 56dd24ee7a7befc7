/**
 * Claude Code's hook events as the hook command reads them (JSON on stdin), and what it answers
 * (JSON on stdout). Only the fields used here are named; everything else is ignored.
 */

export const HOOK_EVENTS = [
  'SessionStart',
  'UserPromptSubmit',
  'PreToolUse',
  'PostToolUse',
  'PostToolUseFailure',
  'Stop',
  'SubagentStop',
] as const;
export type HookEventName = (typeof HOOK_EVENTS)[number];

export interface HookInput {
  hook_event_name?: string;
  session_id?: string;
  transcript_path?: string;
  cwd?: string;
  /** UserPromptSubmit */
  prompt?: string;
  /** PreToolUse, PostToolUse, PostToolUseFailure */
  tool_name?: string;
  tool_input?: Record<string, unknown>;
  tool_response?: unknown;
  /** PostToolUseFailure */
  error?: unknown;
  /** Stop, SubagentStop */
  last_assistant_message?: string;
  stop_hook_active?: boolean;
  /** SessionStart: startup, resume, clear, compact */
  source?: string;
}

export type HookOutput =
  | {
      hookSpecificOutput: {
        hookEventName: 'UserPromptSubmit' | 'SessionStart' | 'PostToolUse';
        additionalContext: string;
      };
    }
  | {
      hookSpecificOutput: {
        hookEventName: 'PreToolUse';
        permissionDecision: 'deny' | 'ask';
        permissionDecisionReason: string;
      };
    }
  | { systemMessage: string }
  | undefined;

/** Parses the event; undefined for anything that is not a JSON object. */
export function parseHookInput(text: string): HookInput | undefined {
  try {
    const v = JSON.parse(text) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Claude Code's own tools. Anyone who can run the hook command (the agent's own shell can) may
 * send an event: a tool name outside these and the `mcp__server__tool` form is not Claude Code's,
 * and nothing of such an event is stored.
 */
const CLAUDE_CODE_TOOLS = new Set([
  'Bash',
  'BashOutput',
  'KillShell',
  'KillBash',
  'Read',
  'Write',
  'Edit',
  'MultiEdit',
  'NotebookEdit',
  'NotebookRead',
  'Glob',
  'Grep',
  'LS',
  'WebFetch',
  'WebSearch',
  'Task',
  'Agent',
  'TodoWrite',
  'ExitPlanMode',
  'EnterPlanMode',
  'SlashCommand',
  'Skill',
  'AskUserQuestion',
  'ListMcpResourcesTool',
  'ReadMcpResourceTool',
  'ToolSearch',
  'LSP',
]);
const MCP_TOOL = /^mcp__[A-Za-z0-9_-]{1,64}__[A-Za-z0-9_.-]{1,128}$/;

/** Whether `name` is one of Claude Code's tools or an MCP tool as Claude Code names it. */
export function isToolName(name: unknown): name is string {
  return typeof name === 'string' && (CLAUDE_CODE_TOOLS.has(name) || MCP_TOOL.test(name));
}

/** Claude Code's session ids (UUIDs); anything else is not used as a key. */
export function isSessionId(id: unknown): id is string {
  return typeof id === 'string' && /^[A-Za-z0-9_-]{1,128}$/.test(id);
}

/** A single-line field as stored: line breaks and other control characters become spaces. */
export function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').trim();
}

/** A command must resemble an earlier failing one this closely for a warning. */
const COMMAND_SIMILARITY = 0.5;

/** A match that is an earlier failing command of Claude Code's Bash tool, close enough to warn of. */
export function earlierCommand(m: { source?: string; operation: string; similarity: number }): boolean {
  return (
    m.source === 'claude_code' && m.operation === 'claude_code:Bash' && m.similarity >= COMMAND_SIMILARITY
  );
}

/** Tools whose input names a file they write. */
export const WRITE_TOOLS = new Set(['Write', 'Edit', 'MultiEdit', 'NotebookEdit']);

/** The text of a tool's input worth remembering: the command, or the file written. */
export function toolSubject(tool: string, input: Record<string, unknown> | undefined): string {
  if (!input) return tool;
  if (typeof input.command === 'string') return input.command;
  const file = input.file_path ?? input.notebook_path ?? input.path;
  return typeof file === 'string' ? `${tool} ${oneLine(file)}` : tool;
}

/**
 * The kind of a command, so that a later attempt of the same kind can resolve a failure:
 * the program and its subcommand ("npm test", "git push", "tsc"), environment assignments skipped.
 */
export function commandKind(command: string): string {
  const words = command
    .trim()
    .split(/\s+/)
    .filter((w) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(w));
  const program = (words[0] ?? '').split('/').pop() ?? '';
  const sub = words[1] && /^[a-z][\w:-]*$/.test(words[1]) ? ` ${words[1]}` : '';
  return oneLine(`${program}${sub}`).slice(0, 120);
}

/** A tool's error as text (Claude Code sends a string, sometimes an object). */
export function errorText(error: unknown): string {
  if (typeof error === 'string') return error;
  if (error === undefined || error === null) return '';
  try {
    return JSON.stringify(error);
  } catch {
    return 'unreadable error';
  }
}
