import { z } from 'zod';
import type { Services } from '../../services.js';
import { inboxItemSchema } from '../../schemas/operations.js';
import { defineTool, ok } from '../../tool.js';

const input = z
  .object({
    action_id: z.string().min(1).max(80).describe('The inbox item (inbox_status)'),
    approve: z.boolean().describe('true runs it (once); false rejects it'),
    reason: z.string().max(2000).optional().describe('Why; required to reject'),
    approved_by: z.string().max(120).optional().describe('Who decides (default: this session)'),
  })
  .strict();

const output = z.object({
  item: inboxItemSchema,
  ran: z.boolean(),
  exit_code: z.number().nullable().optional(),
  stdout: z.string().optional(),
  stderr: z.string().optional(),
});

const tail = (s: string) => (s.length > 4000 ? `…${s.slice(-4000)}` : s);

export function approveAction(services: Services) {
  return defineTool({
    name: 'approve_action',
    title: 'Approve or reject an action',
    description:
      'Decide an inbox item: approve runs the operation exactly once (classification and allowlist are checked again, and it is a dry run unless execution is on) and records its outcome; reject needs a reason. Expired items cannot be approved.',
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
    async handler(args, ctx) {
      const by = args.approved_by ?? ctx.actor;
      const item = await services.inbox.decide(args.action_id, {
        approve: args.approve,
        reason: args.reason,
        by,
      });
      if (!args.approve) return ok({ item, ran: false }, `Rejected ${item.id}: ${args.reason}`);
      const run = await services.commands.run(
        {
          command: item.payload.command,
          args: item.payload.args,
          cwd: item.payload.cwd,
          timeoutS: item.payload.timeout_s,
          actor: by,
        },
        undefined,
        true,
      );
      const okRun = run.status === 'executed' ? run.result!.exit_code === 0 : run.status === 'dry_run';
      const final = await services.inbox.recordOutcome(item.id, {
        ok: okRun,
        status: run.status,
        message: run.message,
        ...(run.result ? { exit_code: run.result.exit_code } : {}),
      });
      return ok(
        {
          item: final,
          ran: run.status === 'executed',
          ...(run.result
            ? {
                exit_code: run.result.exit_code,
                stdout: tail(run.result.stdout),
                stderr: tail(run.result.stderr),
              }
            : {}),
        },
        `Approved ${item.id} by ${by}. ${run.message}`,
      );
    },
  });
}
