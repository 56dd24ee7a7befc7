import { z } from 'zod';
import type { Services } from '../../services.js';
import { defineTool, ok } from '../../tool.js';

const input = z
  .object({
    category: z.string().min(1).max(64).describe('Category to load (or unload), e.g. "agent"'),
    reason: z.string().max(500).optional().describe('Why the category is needed (logged, optional)'),
    unload: z
      .boolean()
      .optional()
      .describe("true removes the category's tools to free context; default false"),
  })
  .strict();

const output = z.object({
  category: z.string(),
  action: z.enum(['loaded', 'unloaded', 'already_loaded', 'already_unloaded']),
  tools: z
    .array(z.object({ name: z.string(), summary: z.string().optional() }))
    .describe('Its tools; with one-line summaries when this call changed what is loaded'),
  client_refreshed: z.boolean().describe('Whether the client re-fetched tools/list before this result'),
  loaded_categories: z.array(z.string()),
});

export function requestTool(services: Pick<Services, 'config' | 'logger'>) {
  return defineTool({
    name: 'request_tool',
    title: 'Load a tool category',
    description:
      'Load (or unload) a category of tools, listed in the server instructions; its tools are callable when this returns. An unknown name lists the valid ones.',
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(args, ctx) {
      const { session } = ctx;
      const since = session.toolsListVersion;
      const result = args.unload ? session.unload(args.category) : session.load(args.category);
      services.logger.info('request_tool', {
        category: args.category,
        unload: args.unload ?? false,
        reason: args.reason,
      });
      // Claude Code re-fetches tools/list asynchronously after list_changed; answering before it has
      // would leave the new tools out of the model's next request.
      const refreshed = result.changed
        ? await session.waitForToolsList(since, services.config.listChangedWaitMs)
        : false;
      const action = args.unload
        ? result.changed
          ? 'unloaded'
          : 'already_unloaded'
        : result.changed
          ? 'loaded'
          : 'already_loaded';
      // Nothing changed: the client lists these tools already, so their summaries are not sent again.
      const tools = result.changed ? result.tools : result.tools.map((t) => ({ name: t.name }));
      const value = {
        category: result.category,
        action,
        tools,
        client_refreshed: refreshed,
        loaded_categories: session
          .categories()
          .filter((c) => c.loaded)
          .map((c) => c.name),
      } as const;
      const verb = action.replace('_', ' ');
      const listed = result.changed
        ? `\n${result.tools.map((t) => `- ${t.name}: ${t.summary}`).join('\n')}`
        : ` Its tools: ${result.tools.map((t) => t.name).join(', ')}.`;
      return ok(
        value,
        `Category "${result.category}" ${verb}.${args.unload && result.changed ? '' : listed}`,
      );
    },
  });
}
