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

/** Tools whose input names a file they write. */
export const WRITE_TOOLS = new Set(['Write', 'Edit', 'MultiEdit', 'NotebookEdit']);

/** The text of a tool's input worth remembering: the command, or the file written. */
export function toolSubject(tool: string, input: Record<string, unknown> | undefined): string {
  if (!input) return tool;
  if (typeof input.command === 'string') return input.command;
  const file = input.file_path ?? input.notebook_path ?? input.path;
  return typeof file === 'string' ? `${tool} ${file}` : tool;
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
  return `${program}${sub}`;
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
