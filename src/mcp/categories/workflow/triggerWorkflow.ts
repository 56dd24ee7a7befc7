import { z } from 'zod';
import { buildWorkflowPrompt, findWorkflow, loadWorkflows } from '../../../workflows/workflows.js';
import { describeGraded, gradedRun } from '../../../spawning/gradedRun.js';
import type { Services } from '../../services.js';
import { providerField } from '../../schemas/agents.js';
import { defineTool, ok } from '../../tool.js';

const input = z
  .object({
    workflow: z
      .string()
      .min(1)
      .max(40)
      .describe('@Refactor, @TestGen, @Debug, @Review, @Docs (list_workflows)'),
    prompt: z.string().trim().min(1).max(50_000).describe('What to do'),
    files: z
      .array(z.string().min(1).max(1000))
      .max(10)
      .default([])
      .describe('Project files to include (bounded, quoted as data)'),
    spawn: z
      .boolean()
      .default(false)
      .describe('Run the agent now (default: only build and return the prompt)'),
    provider: providerField.optional().describe('Default: the first configured provider'),
    model: z.string().trim().min(1).max(100).optional().describe("Default: the provider's configured model"),
  })
  .strict();

const output = z.object({
  workflow: z.string(),
  archetype: z.string(),
  prompt: z.string().describe('The prompt built (also what the agent got when spawned)'),
  files: z.array(
    z.object({ path: z.string(), bytes: z.number(), included: z.number(), truncated: z.boolean() }),
  ),
  spawned: z.boolean(),
  output: z.string().optional(),
  provider: z.string().optional(),
  model: z.string().optional(),
  trial_id: z.string().optional(),
  pass: z.boolean().optional().describe('The graders’ verdict on the answer'),
});

export function triggerWorkflow(services: Pick<Services, 'config' | 'graded'>) {
  return defineTool({
    name: 'trigger_workflow',
    title: 'Run a workflow',
    description:
      'Build a workflow prompt (@Refactor, @TestGen, @Debug, @Review, @Docs) from a request and project files (inside the project, bounded, quoted as data) with the workflow’s archetype and settings; with spawn:true the agent runs at once, graded like any spawn.',
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    async handler(args, ctx) {
      const w = findWorkflow(
        await loadWorkflows(services.config.dataDir, services.config.stateDir),
        args.workflow,
      );
      const built = await buildWorkflowPrompt(w, args.prompt, args.files, services.config.projectDir);
      const base = {
        workflow: `@${w.name}`,
        archetype: w.archetype,
        prompt: built.prompt,
        files: built.files,
      };
      if (!args.spawn)
        return ok(
          { ...base, spawned: false },
          `@${w.name} (${w.archetype}) prompt built from ${built.files.length} file(s), ${built.prompt.length} characters; pass spawn:true to run it.\n\n${built.prompt.slice(0, 3000)}`,
        );
      const run = await gradedRun(
        services.graded,
        {
          prompt: built.prompt,
          archetype: w.archetype,
          ...(w.temperature !== undefined ? { temperature: w.temperature } : {}),
          ...(w.max_tokens !== undefined ? { maxTokens: w.max_tokens } : {}),
          provider: args.provider,
          model: args.model,
          operation: `workflow:${w.name}`,
        },
        ctx,
      );
      const r = run;
      return ok(
        {
          ...base,
          spawned: true,
          output: r.output,
          provider: r.provider,
          model: r.model,
          trial_id: r.trial_id,
          pass: r.evaluation.pass,
        },
        describeGraded(r),
      );
    },
  });
}
