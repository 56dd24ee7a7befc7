import { z } from 'zod';
import { checkCron, parseEvery } from '../../../workflows/scheduler.js';
import { AppError } from '../../../core/errors.js';
import type { Services } from '../../services.js';
import { providerField } from '../../schemas/agents.js';
import { jobSchema } from '../../schemas/schedule.js';
import { defineTool, ok } from '../../tool.js';

const input = z
  .object({
    name: z.string().trim().min(1).max(80).optional().describe('A label (default: the command or prompt)'),
    command: z
      .object({
        command: z.string().min(1).max(200).describe('Allowed program, bare name'),
        args: z.array(z.string().max(4000)).max(200).default([]).describe('Its arguments (no shell)'),
        cwd: z.string().max(1000).optional().describe('Working folder inside the project'),
        timeout_s: z
          .number()
          .int()
          .min(1)
          .max(600)
          .optional()
          .describe('Killed after this many seconds (default 60)'),
      })
      .strict()
      .optional()
      .describe('Run a command (classified and allowlisted; a dry run unless execution is on)'),
    spawn: z
      .object({
        prompt: z.string().trim().min(1).max(50_000).describe('What the agent should do'),
        provider: providerField.optional().describe('Default: the first configured provider'),
        model: z.string().max(100).optional().describe("Default: the provider's configured model"),
        archetype: z.string().max(40).optional().describe('Role, e.g. researcher (archetype_info)'),
      })
      .strict()
      .optional()
      .describe('Or run an agent (graded like any spawn)'),
    run_at: z.string().datetime({ offset: true }).optional().describe('Once, at this time (ISO 8601)'),
    every: z.string().max(20).optional().describe('Repeatedly: 30s, 15m, 2h, 1d'),
    cron: z.string().max(100).optional().describe('On a cron schedule (5 fields, UTC), e.g. "0 9 * * 1-5"'),
  })
  .strict();

export function scheduleTask(services: Pick<Services, 'commands' | 'config' | 'scheduler'>) {
  return defineTool({
    name: 'schedule_task',
    title: 'Schedule a command or agent run',
    description:
      'Schedule a command or an agent spawn once (run_at), repeatedly (every) or on a cron expression. Jobs persist across restarts and run in one server process at a time. Commands are classified first: blocked ones and ones needing approval cannot be scheduled.',
    inputSchema: input,
    outputSchema: jobSchema,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    async handler(args, ctx) {
      if ((args.command === undefined) === (args.spawn === undefined))
        throw new AppError('INVALID_INPUT', 'Pass either command or spawn', {
          hint: 'command: a program to run; spawn: an agent prompt',
        });
      const whens = [args.run_at, args.every, args.cron].filter((x) => x !== undefined);
      if (whens.length !== 1)
        throw new AppError('INVALID_INPUT', 'Pass exactly one of run_at, every or cron', {
          hint: 'run_at: "2026-12-01T09:00:00Z"; every: "15m"; cron: "*/15 * * * *"',
        });
      const every = args.every === undefined ? undefined : parseEvery(args.every);
      if (args.every !== undefined && every === undefined)
        throw new AppError('INVALID_INPUT', `every "${args.every}" is not a duration`, {
          hint: 'Use 30s, 15m, 2h or 1d',
        });
      if (args.cron) checkCron(args.cron);
      if (args.command) {
        const c = services.commands.classify(args.command.command, args.command.args);
        if (c.verdict !== 'SAFE')
          throw new AppError(
            'INVALID_INPUT',
            `Cannot schedule \`${[args.command.command, ...args.command.args].join(' ')}\`: ${c.verdict === 'BLOCKED' ? 'blocked' : 'it needs approval'} (${c.matches.map((m) => m.reason).join('; ')})`,
            {
              hint:
                c.verdict === 'BLOCKED'
                  ? 'It will never run'
                  : 'Run it once through run_with_error_capture and the approval inbox instead',
            },
          );
        if (!services.config.commands.includes(args.command.command))
          throw new AppError('INVALID_INPUT', `"${args.command.command}" is not an allowed program`, {
            hint: `Allowed: ${services.config.commands.join(', ')} (TASK_ORCHESTRATOR_COMMANDS)`,
          });
      }
      const job = await services.scheduler.add({
        name:
          args.name ??
          (args.command ? [args.command.command, ...args.command.args].join(' ') : args.spawn!.prompt).slice(
            0,
            80,
          ),
        kind: args.command ? 'command' : 'spawn',
        ...(args.command ? { command: args.command } : {}),
        ...(args.spawn ? { spawn: args.spawn } : {}),
        when: {
          ...(args.run_at ? { run_at: new Date(args.run_at).toISOString() } : {}),
          ...(every ? { every_s: every } : {}),
          ...(args.cron ? { cron: args.cron } : {}),
        },
        created_by: ctx.actor,
      });
      return ok(
        job,
        `Scheduled ${job.id} "${job.name}"; next run ${job.next_run}.${args.command && !services.commands.executes ? ' Execution is off: runs are dry runs until TASK_ORCHESTRATOR_EXECUTE=on.' : ''}`,
      );
    },
  });
}
