import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { renderHtml, renderMarkdown } from '../../../desk/dashboard/render.js';
import { buildDashboard, DASHBOARD_URI } from '../../../desk/dashboard/data.js';
import type { Services } from '../../services.js';
import { defineTool, ok } from '../../tool.js';

const input = z
  .object({
    format: z
      .enum(['markdown', 'json', 'html'])
      .default('markdown')
      .describe(
        'markdown: a summary to read; json: every figure; html: writes a page with charts and returns its path',
      ),
    days: z.number().int().min(1).max(365).default(14).describe('Window of the trend and totals, in days'),
  })
  .strict();

const counts = z.record(z.string(), z.number());
const day = z.object({
  failures: z.number(),
  new_patterns: z.number(),
  checks: z.number(),
  blocks: z.number(),
  hits: z.number(),
  saves: z.number(),
  guarded_failures: z.number(),
});
const output = z.object({
  format: z.enum(['markdown', 'json', 'html']),
  generated_at: z.string(),
  days: z.number(),
  health: z.object({
    score: z.number(),
    status: z.enum(['healthy', 'degraded', 'unhealthy']),
    patterns: z.number(),
    imported: z.number(),
    weak: z.number(),
    average_strength: z.number(),
  }),
  totals: day,
  guardrail_success_rate: z.number().nullable(),
  alerts: z.object({ total: z.number(), by_severity: counts, by_kind: counts }),
  trend: z
    .array(day.extend({ date: z.string() }))
    .optional()
    .describe('json only'),
  by_failure_type: counts.optional(),
  by_operation: counts.optional(),
  by_model: counts.optional(),
  top_patterns: z
    .array(
      z.object({
        id: z.string(),
        failure_type: z.string(),
        operation: z.string(),
        occurrences: z.number(),
        hits: z.number(),
        saves: z.number(),
        strength: z.number(),
        last_seen: z.string(),
        prompt_summary: z.string(),
        source_project: z.string().optional(),
      }),
    )
    .optional(),
  html_path: z.string().optional().describe('html only: the page written'),
  resource_uri: z.string().describe('The same page as an MCP resource'),
});

export function immuneDashboard(
  services: Pick<
    Services,
    'alerts' | 'cases' | 'clock' | 'config' | 'federation' | 'immune' | 'redact' | 'runs' | 'usage'
  >,
) {
  return defineTool({
    name: 'immune_dashboard',
    title: 'Immune dashboard',
    description:
      'Health of the failure memory over the last days: occurrence trend per day, breakdown by failure type, operation and model, top patterns, checks and blocks, guardrail success rate, alert counts. markdown to read, json for every figure, html writes a self-contained page with charts (also the resource task-orchestrator://immune/dashboard and the `task-orchestrator dashboard` command).',
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(args) {
      const d = await buildDashboard(services, args.days);
      const summary = {
        format: args.format,
        generated_at: d.generated_at,
        days: d.days,
        health: d.health,
        totals: d.totals,
        guardrail_success_rate: d.guardrail_success_rate,
        alerts: d.alerts,
        resource_uri: DASHBOARD_URI,
      };
      if (args.format === 'json') {
        const { trend, by_failure_type, by_operation, by_model, top_patterns } = d;
        return ok(
          { ...summary, trend, by_failure_type, by_operation, by_model, top_patterns },
          JSON.stringify(d),
        );
      }
      if (args.format === 'html') {
        const dir = path.join(services.config.stateDir, 'dashboard');
        await mkdir(dir, { recursive: true });
        const file = path.join(dir, 'immune.html');
        const html = renderHtml(d);
        await writeFile(file, html);
        return ok(
          { ...summary, html_path: file },
          `Wrote ${file} (${Math.round(html.length / 1024)} KB, self-contained). Health ${d.health.score}/100 (${d.health.status}), ${d.health.patterns} pattern(s). Also served by \`task-orchestrator dashboard\` and as resource ${DASHBOARD_URI}.`,
        );
      }
      return ok(summary, renderMarkdown(d));
    },
  });
}
