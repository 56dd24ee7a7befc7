import { z } from 'zod';
import { handover, staleScan, validateStructure } from '../../../tasks/analysis.js';
import { writeReport } from '../../../tasks/artifacts.js';
import type { Services } from '../../services.js';
import { defineTool, ok } from '../../tool.js';

const input = z
  .object({
    action: z
      .enum(['stale', 'validate', 'handover'])
      .describe(
        'stale: overdue and untouched work; validate: structural problems; handover: write a handover document',
      ),
    stale_days: z
      .number()
      .int()
      .min(1)
      .max(365)
      .default(7)
      .describe('For stale: days without an update; default 7'),
  })
  .strict();

const finding = z.object({ task: z.string(), kind: z.string(), detail: z.string(), fix: z.string() });
const output = z.object({
  action: z.string(),
  findings: z.array(finding),
  total_findings: z.number(),
  document: z.string().optional().describe('handover: the document (also saved to path)'),
  path: z.string().optional().describe('handover: file under the state folder'),
});

export function tasksMaintain(services: Pick<Services, 'clock' | 'config' | 'tasks'>) {
  return defineTool({
    name: 'tasks_maintain',
    title: 'Maintain the task store',
    description:
      'Housekeeping: find overdue and stale work (stale), find structural problems such as dependencies that can never be satisfied or closed parents with open subtasks (validate), or write a handover document of where everything stands (handover). Each finding says how to fix it.',
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(args) {
      const now = new Date(services.clock.now());
      if (args.action === 'handover') {
        const doc = await services.tasks.read((state) => handover(state, now));
        const file = await writeReport(
          services.config.stateDir,
          `handover-${now.toISOString().slice(0, 10)}.md`,
          doc,
        );
        const shown =
          doc.length > 12_000
            ? `${doc.slice(0, 12_000)}\n[truncated here; the whole document is in ${file}]`
            : doc;
        return ok(
          { action: args.action, findings: [], total_findings: 0, document: shown, path: file },
          shown,
        );
      }
      const findings = await services.tasks.read((state) =>
        args.action === 'stale' ? staleScan(state, now, args.stale_days) : validateStructure(state),
      );
      const text =
        findings.length === 0
          ? args.action === 'stale'
            ? `No overdue work and nothing untouched for ${args.stale_days} days.`
            : 'No structural problems found.'
          : findings
              .slice(0, 50)
              .map((f) => `${f.task} ${f.kind}: ${f.detail}. Fix: ${f.fix}`)
              .join('\n');
      return ok(
        { action: args.action, findings: findings.slice(0, 100), total_findings: findings.length },
        text,
      );
    },
  });
}
