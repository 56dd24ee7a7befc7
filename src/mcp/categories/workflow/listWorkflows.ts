import { z } from 'zod';
import { loadWorkflows } from '../../../workflows/workflows.js';
import type { Services } from '../../services.js';
import { defineTool, ok } from '../../tool.js';

const output = z.object({
  workflows: z.array(
    z.object({
      name: z.string(),
      trigger: z.string(),
      description: z.string(),
      archetype: z.string(),
      temperature: z.number().optional(),
      source: z.enum(['built-in', 'project']),
    }),
  ),
});

export function listWorkflows(services: Pick<Services, 'config'>) {
  return defineTool({
    name: 'list_workflows',
    title: 'Workflows',
    description:
      'The workflows trigger_workflow runs (@Refactor, @TestGen, @Debug, @Review, @Docs and project ones from <state>/workflows): what each does and the agent role it uses.',
    inputSchema: z.object({}).strict(),
    outputSchema: output,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler() {
      const all = await loadWorkflows(services.config.dataDir, services.config.stateDir);
      const workflows = all.map((w) => ({
        name: w.name,
        trigger: `@${w.name}`,
        description: w.description,
        archetype: w.archetype,
        ...(w.temperature !== undefined ? { temperature: w.temperature } : {}),
        source: w.source,
      }));
      return ok(
        { workflows },
        workflows.map((w) => `@${w.name} (${w.archetype}): ${w.description}`).join('\n'),
      );
    },
  });
}
