import { z } from 'zod';
import type { Services } from '../../services.js';
import { inboxItemSchema } from '../../schemas/operations.js';
import { pageFields } from '../../schemas/tasks.js';
import { defineTool, ok } from '../../tool.js';

const input = z
  .object({
    status: z
      .enum(['pending', 'approved', 'rejected', 'expired', 'executed', 'failed'])
      .optional()
      .describe('Only items in this state (default: all, newest first)'),
    ...pageFields,
  })
  .strict();

const output = z.object({
  items: z.array(inboxItemSchema),
  total: z.number(),
  next_cursor: z.string().optional(),
});

export function inboxStatus(services: Pick<Services, 'inbox'>) {
  return defineTool({
    name: 'inbox_status',
    title: 'Approval inbox',
    description:
      'Operations waiting for human approval (classified REQUIRES_APPROVAL) and decided ones: who asked, the command, why it needs approval, risk, expiry, the decision and the outcome. Approve or reject with approve_action.',
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(args) {
      const page = await services.inbox.list(args);
      return ok(
        {
          items: page.items,
          total: page.total,
          ...(page.next_cursor ? { next_cursor: page.next_cursor } : {}),
        },
        page.total === 0
          ? 'The inbox is empty.'
          : page.items
              .map(
                (i) =>
                  `${i.id} [${i.status}] ${i.summary} — ${i.reasons.join('; ')} (by ${i.requested_by}, expires ${i.expires_at})`,
              )
              .join('\n'),
      );
    },
  });
}
