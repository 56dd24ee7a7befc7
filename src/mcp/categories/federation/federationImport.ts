import { z } from 'zod';
import type { Services } from '../../services.js';
import { defineTool, ok } from '../../tool.js';

const input = z
  .object({
    hub_ids: z
      .array(z.string().min(3).max(200))
      .min(1)
      .max(100)
      .describe('project/pattern_id of each pattern, as federation_search returns them'),
  })
  .strict();

const output = z.object({ imported: z.number(), updated: z.number() });

export function federationImport(services: Pick<Services, 'federation'>) {
  return defineTool({
    name: 'federation_import',
    title: 'Import failure patterns from the hub',
    description:
      "Import other projects' failure patterns into this project's memory with their lineage (source project and original id); from then on they guard prompts here like local ones. Importing again refreshes them.",
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(args) {
      const r = await services.federation.import(args.hub_ids);
      return ok(r, `Imported ${r.imported} pattern(s), refreshed ${r.updated}.`);
    },
  });
}
