import { z } from 'zod';

export const classificationSchema = z.object({
  verdict: z.enum(['SAFE', 'REQUIRES_APPROVAL', 'BLOCKED']),
  matches: z.array(
    z.object({
      rule: z.string(),
      verdict: z.enum(['SAFE', 'REQUIRES_APPROVAL', 'BLOCKED']),
      reason: z.string(),
    }),
  ),
});

export const inboxItemSchema = z.object({
  id: z.string(),
  kind: z
    .enum(['command', 'run_node'])
    .describe('command: run it once; run_node: retry a run node that failed with every worker'),
  requested_by: z.string(),
  requested_session: z.string().optional().describe('The MCP session that asked (it cannot approve)'),
  summary: z.string(),
  payload: z.union([
    z.object({
      command: z.string(),
      args: z.array(z.string()),
      cwd: z.string().optional(),
      timeout_s: z.number().optional(),
    }),
    z.object({ run_id: z.string(), task: z.string(), title: z.string() }),
  ]),
  verdict: z.enum(['SAFE', 'REQUIRES_APPROVAL', 'BLOCKED']),
  reasons: z.array(z.string()),
  risk: z.enum(['medium', 'high']),
  created_at: z.string(),
  expires_at: z.string(),
  status: z.enum(['pending', 'approved', 'rejected', 'expired', 'executed', 'failed']),
  decided_by: z.string().optional(),
  decided_via: z.enum(['terminal', 'elicitation', 'mcp', 'desk']).optional(),
  decided_at: z.string().optional(),
  decision_reason: z.string().optional(),
  executions: z.number(),
  outcome: z
    .object({
      status: z.string(),
      message: z.string(),
      exit_code: z.number().nullable().optional(),
      at: z.string(),
    })
    .optional(),
});
