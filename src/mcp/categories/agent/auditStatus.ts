import { z } from 'zod';
import { AUDIT_ENTRY_TYPES } from '../../../safety/auditLog.js';
import type { Services } from '../../services.js';
import { defineTool, ok } from '../../tool.js';
import { auditEntrySchema } from './auditAppend.js';

const PREVIEW = 400;

const input = z
  .object({
    query: z
      .string()
      .max(500)
      .optional()
      .describe('Words that must all appear in the title or content (case-insensitive)'),
    entry_type: z.enum(AUDIT_ENTRY_TYPES).optional().describe('Only this kind of entry'),
    limit: z.number().int().min(1).max(100).default(20).describe('Entries per page, 1-100; default 20'),
    cursor: z.string().max(200).optional().describe('next_cursor from the previous page'),
    full: z
      .boolean()
      .default(false)
      .describe(`Return whole contents; default false shows the first ${PREVIEW} characters`),
  })
  .strict();

const output = z.object({
  counts: z.object({ decision: z.number(), error: z.number(), pattern: z.number() }),
  total_matching: z.number(),
  entries: z.array(auditEntrySchema.extend({ truncated: z.boolean().optional() })),
  next_cursor: z.string().optional(),
});

export function auditStatus(services: Pick<Services, 'audit'>) {
  return defineTool({
    name: 'audit_status',
    title: "Search the project's decision log",
    description:
      "Counts and newest-first entries of this project's decision log (decisions, errors, patterns), optionally filtered by words and type. Paginated with limit/cursor.",
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(args, ctx) {
      const page = await services.audit.query(args);
      const preview = ctx.compact ? PREVIEW / 2 : PREVIEW;
      const entries = page.items.map((e) =>
        args.full || e.content.length <= preview
          ? e
          : { ...e, content: e.content.slice(0, preview), truncated: true },
      );
      return ok({
        counts: page.counts,
        total_matching: page.total,
        entries,
        ...(page.next_cursor ? { next_cursor: page.next_cursor } : {}),
      });
    },
  });
}
