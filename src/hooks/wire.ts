/**
 * The hook socket's request and answer, one JSON line each way, written and read here only:
 * the hook process sends `{v: 1, event, input, hook_grade}` (input: the event's JSON as Claude Code
 * sent it), the server answers `{output}` (Claude Code's hook output, or null) or `{error}`.
 */
import { HOOK_EVENTS, parseHookInput } from './events.js';
import type { HookEventName, HookInput, HookOutput } from './events.js';

/** The socket's file name in the state folder. */
export const HOOK_SOCKET = 'hooks.sock';

export type HookGrade = 'on' | 'judges' | 'off';

export interface HookRequest {
  event: HookEventName;
  input: HookInput;
  hookGrade: HookGrade;
}

export type HookReply = { output: HookOutput | null } | { error: string };

/** The request line (newline-terminated). */
export function writeRequest(event: string, input: string, hookGrade: string | undefined): string {
  return `${JSON.stringify({ v: 1, event, input, hook_grade: hookGrade })}\n`;
}

/** A request line as the server reads it; undefined for anything that is not one. */
export function readRequest(line: string): HookRequest | undefined {
  let request: { v?: unknown; event?: unknown; input?: unknown; hook_grade?: unknown };
  try {
    request = JSON.parse(line) as typeof request;
  } catch {
    return undefined;
  }
  const input = typeof request.input === 'string' ? parseHookInput(request.input) : undefined;
  if (request.v !== 1 || !input || !(HOOK_EVENTS as readonly unknown[]).includes(request.event))
    return undefined;
  const hookGrade: HookGrade =
    request.hook_grade === 'judges' || request.hook_grade === 'off' ? request.hook_grade : 'on';
  return { event: request.event as HookEventName, input, hookGrade };
}

/** The answer line (newline-terminated). */
export function writeReply(reply: HookReply): string {
  return `${JSON.stringify(reply)}\n`;
}

/** An answer as the hook process reads it; undefined when it is not one (a cut or garbled line). */
export function readReply(text: string): HookReply | undefined {
  try {
    const reply = JSON.parse(text) as { output?: unknown; error?: unknown };
    if (typeof reply.error === 'string') return { error: reply.error };
    if ('output' in reply) return { output: (reply.output ?? null) as HookOutput | null };
    return undefined;
  } catch {
    return undefined;
  }
}
