import { z } from 'zod';
import { requireArchetype } from '../../../agents/archetypes.js';
import type { Services } from '../../services.js';
import { defineTool, ok } from '../../tool.js';

const input = z
  .object({
    name: z.string().max(40).optional().describe('One archetype with its full role prompt; omit to list all'),
  })
  .strict();

const output = z.object({
  archetypes: z.array(
    z.object({
      name: z.string(),
      description: z.string(),
      temperature: z.number(),
      system_prompt: z.string().optional(),
    }),
  ),
});

export function archetypeInfo(services: Pick<Services, 'agentRun'>) {
  return defineTool({
    name: 'archetype_info',
    title: 'Agent archetypes',
    description:
      'The agent roles spawn_archetype_agent can run (architect, implementer, reviewer, tester, debugger, researcher, documenter, plus project ones): what each is for, its temperature, and with name its full role prompt.',
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    handler(args) {
      const all = services.agentRun.archetypes;
      if (args.name) {
        const a = requireArchetype(all, args.name);
        return Promise.resolve(
          ok(
            { archetypes: [a] },
            `${a.name} (temperature ${a.temperature}): ${a.description}\n\n${a.system_prompt}`,
          ),
        );
      }
      const list = [...all.values()].map(({ name, description, temperature }) => ({
        name,
        description,
        temperature,
      }));
      return Promise.resolve(
        ok({ archetypes: list }, list.map((a) => `${a.name}: ${a.description}`).join('\n')),
      );
    },
  });
}
