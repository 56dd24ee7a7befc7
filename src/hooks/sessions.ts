/** Failures waiting for a later attempt of the same kind, per Claude Code session (`<state>/hook-sessions.json`). */
export interface HookSessionDoc {
  sessions: Record<
    string,
    {
      updated_at: string;
      pending: Array<{ kind: string; subject: string; error: string; pattern_id: string; prompt: string }>;
    }
  >;
}

export const EMPTY_HOOK_SESSIONS: HookSessionDoc = { sessions: {} };
