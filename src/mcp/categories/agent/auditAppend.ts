import { z } from 'zod';
import { AUDIT_ENTRY_TYPES } from '../../../safety/auditLog.js';
import type { Services } from '../../services.js';
import { defineTool, ok } from '../../tool.js';

const input = z
  .object({
    entry_type: z
      .enum(AUDIT_ENTRY_TYPES)
      .describe('decision (a choice and why), error (what broke), or pattern (a recurring lesson)'),
    title: z.string().trim().min(1).max(200).optional().describe('Short headline, up to 200 characters'),
    content: z.string().trim().min(1).max(20_000).describe('The entry itself, up to 20,000 characters'),
    actor: z
      .string()
      .trim()
      .min(1)
      .max(100)
      .optional()
      .describe('Who records it; default: the MCP client name'),
  })
  .strict();

const entry = z.object({
  id: z.string(),
  entry_type: z.enum(AUDIT_ENTRY_TYPES),
  title: z.string().optional(),
  content: z.string(),
  actor: z.string(),
  at: z.string(),
});

export function auditAppend(services: Pick<Services, 'audit'>) {
  return defineTool({
    name: 'audit_append',
    title: 'Record a decision, error or pattern',
    description:
      "Append an entry to this project's decision log (kept in the project's state folder, append-only, shared by every session). Use it to record why something was decided, what failed, or a pattern to remember; audit_status searches it.",
    inputSchema: input,
    outputSchema: z.object({ entry }),
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    async handler(args, ctx) {
      const saved = await services.audit.append({
        entry_type: args.entry_type,
        title: args.title,
        content: args.content,
        actor: ctx.actorFor(args.actor),
      });
      return ok({ entry: saved }, `Recorded ${saved.entry_type} ${saved.id}.`);
    },
  });
}

export { entry as auditEntrySchema };
