import { z } from 'zod';
import { AppError } from '../../../core/errors.js';
import { approveAndRun } from '../../../safety/inbox.js';
import { APPROVER_ROLE } from '../../http/auth.js';
import type { Services } from '../../services.js';
import { inboxItemSchema } from '../../schemas/operations.js';
import { defineTool, ok } from '../../tool.js';

const input = z
  .object({
    action_id: z.string().min(1).max(80).describe('The inbox item (inbox_status)'),
    approve: z
      .boolean()
      .describe('true asks the user to approve it (a form in the client); false rejects it'),
    reason: z.string().max(2000).optional().describe('Why; required to reject'),
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

export function approveAction(services: Pick<Services, 'inbox' | 'commands'>) {
  return defineTool({
    name: 'approve_action',
    title: 'Approve or reject an action',
    description:
      'Decide an inbox item. Only a human approves: with approve:true the user is asked in a form of the client (MCP elicitation); a client without forms is told to have the user run `task-orchestrator approve <id>` in a terminal. An approved action runs exactly once (checked again; a dry run unless execution is on). Anyone may reject, with a reason.',
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
    async handler(args, ctx) {
      if (!args.approve) {
        const item = await services.inbox.decide(args.action_id, {
          approve: false,
          reason: args.reason,
          by: ctx.actor,
          via: 'mcp',
          session: ctx.sessionId,
        });
        return ok({ item, ran: false }, `Rejected ${item.id}: ${args.reason}`);
      }
      const pending = await services.inbox.get(args.action_id);
      // HTTP mode: only a subject whose token carries the approver role approves, by form or not
      // (a form reaches whoever runs the client, which may be an agent); agents' tokens never have it.
      if (ctx.actorVerified && !ctx.roles.includes(APPROVER_ROLE))
        throw new AppError(
          'FORBIDDEN',
          `${ctx.actor} may not approve ${pending.id}: its token has no approver role`,
          {
            hint: `A person approves with a token minted by \`task-orchestrator token --sub NAME --approver\`, or runs \`task-orchestrator approve ${pending.id}\` in a terminal; agents' tokens never carry the role`,
          },
        );
      let decider: { by: string; via: 'elicitation' | 'mcp'; session?: string };
      if (ctx.askHuman) {
        const answer = await ctx.askHuman(
          [
            pending.kind === 'run_node'
              ? `Retry this step of a supervisor run? Its workers failed.`
              : `Approve this action? It runs once, in the project folder.`,
            `${pending.kind === 'run_node' ? 'Step' : 'Command'}: ${pending.summary}`,
            `Why it needs approval: ${pending.reasons.join('; ')}`,
            `Requested by: ${pending.requested_by}`,
          ].join('\n'),
          {
            type: 'object',
            properties: {
              decision: {
                type: 'string',
                enum: ['approve', 'reject'],
                description: 'approve runs it once; reject refuses it',
              },
              reason: { type: 'string', description: 'Why (required to reject)' },
            },
            required: ['decision'],
          },
        );
        const decision = answer.content?.decision;
        if (answer.action !== 'accept' || (decision !== 'approve' && decision !== 'reject'))
          return ok(
            { item: pending, ran: false },
            `The user did not decide (${answer.action}); ${pending.id} stays pending until ${pending.expires_at}.`,
          );
        if (decision === 'reject') {
          const reason =
            typeof answer.content?.reason === 'string' && answer.content.reason.trim()
              ? answer.content.reason
              : 'rejected by the user';
          const item = await services.inbox.decide(pending.id, {
            approve: false,
            reason,
            by: `user of ${ctx.actor}`,
            via: 'elicitation',
          });
          return ok({ item, ran: false }, `The user rejected ${item.id}: ${reason}`);
        }
        decider = { by: `user of ${ctx.actor}`, via: 'elicitation' };
      } else if (ctx.actorVerified) {
        // HTTP mode: a person's token (minted with --approver): checked above.
        decider = { by: ctx.actor, via: 'mcp', session: ctx.sessionId };
      } else {
        throw new AppError(
          'FORBIDDEN',
          `Only a human approves ${pending.id}, and this client cannot ask the user`,
          {
            hint: `Ask the user to run \`task-orchestrator approve ${pending.id}\` (or \`reject ${pending.id} --reason ...\`) in their terminal`,
          },
        );
      }
      const { item, run, message } = await approveAndRun(
        services.inbox,
        services.commands,
        pending.id,
        decider,
      );
      return ok(
        {
          item,
          ran: run?.status === 'executed',
          ...(run?.result
            ? {
                exit_code: run.result.exit_code,
                stdout: tail(run.result.stdout),
                stderr: tail(run.result.stderr),
              }
            : {}),
        },
        `Approved ${item.id} by ${decider.by}. ${message}`,
      );
    },
  });
}
