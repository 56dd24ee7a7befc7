import { z } from 'zod';
import type { Services } from '../../services.js';
import { defineTool, ok } from '../../tool.js';

const output = z.object({
  configured: z.boolean(),
  hub: z.string().optional().describe('The hub folder'),
  project: z.string().describe("This project's name in the hub"),
  subscriptions: z.array(z.string()),
  projects: z.array(
    z.object({
      project: z.string(),
      path: z.string(),
      rev: z.number(),
      patterns: z.number(),
      updated_at: z.string(),
      subscribed: z.boolean(),
      self: z.boolean(),
    }),
  ),
  shared: z.number().describe('Own patterns marked shared'),
  imported: z.number().describe('Patterns imported from other projects'),
});

export function federationStatus(services: Pick<Services, 'federation'>) {
  return defineTool({
    name: 'federation_status',
    title: 'Federation hub and projects',
    description:
      'The federation hub this project shares failure patterns through: its projects with their shared pattern counts, which ones this project subscribes to, and how many own patterns are shared and foreign ones imported. Says how to configure a hub when none is.',
    inputSchema: z.object({}).strict(),
    outputSchema: output,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler() {
      const s = await services.federation.status();
      const text = s.configured
        ? [
            `Hub ${s.hub}; this project is "${s.project}" (${s.shared} shared, ${s.imported} imported).`,
            ...s.projects.map(
              (p) =>
                `${p.self ? '*' : p.subscribed ? '+' : '-'} ${p.project}: ${p.patterns} pattern(s), rev ${p.rev}${p.self ? ' (this project)' : p.subscribed ? ' (subscribed)' : ''}`,
            ),
          ].join('\n')
        : `No federation hub configured; set TASK_ORCHESTRATOR_FEDERATION_DIR to share failure patterns between projects. This project would be "${s.project}".`;
      return ok(s, text);
    },
  });
}
