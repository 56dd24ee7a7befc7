import { z } from 'zod';
import { quoteAuditEntries } from '../../../safety/auditLog.js';
import { describeGraded, gradedRun } from '../../../spawning/gradedRun.js';
import type { Services } from '../../services.js';
import { agentRunSchema, providerField, judgeRepeatsField } from '../../schemas/agents.js';
import { taskRef } from '../../schemas/tasks.js';
import { defineTool, ok } from '../../tool.js';

const input = z
  .object({
    archetype: z
      .string()
      .min(1)
      .max(40)
      .describe(
        'architect, implementer, reviewer, tester, debugger, researcher, documenter (archetype_info lists them)',
      ),
    prompt: z.string().trim().min(1).max(200_000).describe('What the agent should do'),
    provider: providerField.optional().describe('Default: the first configured; others serve as fallback'),
    model: z.string().trim().min(1).max(100).optional().describe("Default: the provider's configured model"),
    max_tokens: z.number().int().min(1).max(200_000).optional().describe('Output limit'),
    output_schema: z.record(z.string(), z.unknown()).optional().describe('JSON Schema the answer must match'),
    include_audit: z
      .number()
      .int()
      .min(0)
      .max(20)
      .default(0)
      .describe('Give the agent this many of the newest decision-log entries, quoted as data (bounded)'),
    task_id: taskRef
      .optional()
      .describe('Work on this task; a passing answer completes it through its gates'),
    judge_repeats: judgeRepeatsField,
  })
  .strict();

export function spawnArchetypeAgent(services: Pick<Services, 'audit' | 'graded'>) {
  return defineTool({
    name: 'spawn_archetype_agent',
    title: 'Run an agent in a role',
    description:
      'Run an LLM agent as one of the archetypes (its role prompt and temperature apply), with the same budget, breaker, retry and fallback protection as spawn_agent, and the same output_schema and task_id handling.',
    inputSchema: input,
    outputSchema: agentRunSchema,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    async handler(args, ctx) {
      const quoted =
        args.include_audit > 0
          ? quoteAuditEntries((await services.audit.query({ limit: args.include_audit })).items)
          : '';
      const run = await gradedRun(
        services.graded,
        {
          prompt: quoted ? `${args.prompt}\n\n${quoted}` : args.prompt,
          archetype: args.archetype,
          provider: args.provider,
          model: args.model,
          maxTokens: args.max_tokens,
          outputSchema: args.output_schema,
          taskId: args.task_id,
          operation: `archetype:${args.archetype}`,
          judgeRepeats: args.judge_repeats,
        },
        ctx,
      );
      return ok(run, describeGraded(run));
    },
  });
}
