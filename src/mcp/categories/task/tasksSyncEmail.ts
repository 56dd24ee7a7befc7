import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { resolveInside } from '../../../safety/paths.js';
import { calendarSource } from '../../../tasks/sources/calendar.js';
import { emailSource } from '../../../tasks/sources/email.js';
import type { SourceReadResult } from '../../../tasks/sources/source.js';
import type { NewTask } from '../../../tasks/batch.js';
import type { Services } from '../../services.js';
import { actorField, taskLine, taskSummarySchema } from '../../schemas/tasks.js';
import { defineTool, ok } from '../../tool.js';

const SOURCES = [emailSource, calendarSource];
const MAX_FILES = 200;
const LISTED = 30;

const input = z
  .object({
    path: z
      .string()
      .trim()
      .min(1)
      .max(500)
      .describe('An .eml, .mbox or .ics file, or a folder of them, inside the project'),
    dry_run: z.boolean().default(false).describe('true: show what would be imported without creating tasks'),
    actor: actorField,
  })
  .strict();

const output = z.object({
  files: z.number(),
  imported: z.array(taskSummarySchema),
  would_import: z
    .array(
      z.object({
        title: z.string(),
        priority: z.string().optional(),
        due: z.string().optional(),
        source: z.string(),
      }),
    )
    .optional(),
  duplicates: z.number().describe('Already imported earlier (same Message-ID or calendar UID)'),
  skipped: z.array(z.object({ item: z.string(), reason: z.string() })),
  skipped_total: z.number(),
  errors: z.array(z.object({ file: z.string(), error: z.string() })),
});

export function tasksSyncEmail(services: Pick<Services, 'clock' | 'config' | 'tasks'>) {
  return defineTool({
    name: 'tasks_sync_email',
    title: 'Import tasks from mail and calendar files',
    description:
      'Turn actionable emails (.eml files, .mbox mailboxes) and calendar items (.ics to-dos and upcoming events) into tasks with priorities and deadlines. Newsletters and auto-replies are skipped; re-imports skip messages already imported (Message-ID / UID). Gmail and Calendar APIs are not supported.',
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    async handler(args, ctx) {
      const { config } = services;
      const roots = [config.projectDir, config.stateDir];
      const target = await resolveInside(roots, args.path);
      const stat = await fs.stat(target);
      let files = stat.isDirectory()
        ? (await fs.readdir(target)).sort().map((n) => path.join(target, n))
        : [target];
      files = files.filter((f) => SOURCES.some((s) => s.handles(f))).slice(0, MAX_FILES);
      // A folder's entries are resolved one by one: a link inside it must not lead out of the project.
      const outside: string[] = [];
      const resolved: string[] = [];
      for (const f of files) {
        const real = await resolveInside(roots, f).catch(() => undefined);
        if (real) resolved.push(real);
        else outside.push(path.basename(f));
      }
      files = resolved;
      const now = new Date(services.clock.now());
      const all: SourceReadResult = {
        tasks: [],
        skipped: [],
        errors: outside.map((file) => ({
          file,
          error: 'links outside the project (or is unreadable); not read',
        })),
      };
      for (const file of files) {
        const source = SOURCES.find((s) => s.handles(file))!;
        const r = await source.read(file, now);
        all.tasks.push(...r.tasks);
        all.skipped.push(...r.skipped);
        all.errors.push(...r.errors.map((e) => ({ ...e, file: path.basename(e.file) })));
      }
      const common = {
        files: files.length,
        skipped: all.skipped.slice(0, LISTED),
        skipped_total: all.skipped.length,
        errors: all.errors.slice(0, LISTED),
      };
      if (args.dry_run) {
        const dup = await services.tasks.duplicatesOf(all.tasks);
        const duplicates = dup.filter(Boolean).length;
        const would = all.tasks
          .filter((_t, i) => !dup[i])
          .map((t: NewTask) => ({
            title: t.title,
            source: t.source ?? 'email',
            ...(t.priority ? { priority: t.priority } : {}),
            ...(t.due ? { due: t.due } : {}),
          }));
        return ok(
          { ...common, imported: [], would_import: would.slice(0, 100), duplicates },
          `Dry run over ${files.length} file(s): ${would.length} task(s) would be imported, ${duplicates} already imported, ${all.skipped.length} skipped.\n${would
            .slice(0, LISTED)
            .map((w) => `- ${w.title}${w.due ? ` (due ${w.due})` : ''}`)
            .join('\n')}`,
        );
      }
      const result =
        all.tasks.length > 0
          ? await services.tasks.import(all.tasks, ctx.actorFor(args.actor), 'email')
          : { added: [], duplicates: [] };
      const text = [
        `Read ${files.length} file(s): imported ${result.added.length} task(s), ${result.duplicates.length} already imported, ${all.skipped.length} skipped, ${all.errors.length} error(s).`,
        ...result.added.slice(0, LISTED).map(taskLine),
        ...all.errors.slice(0, 5).map((e) => `error in ${e.file}: ${e.error}`),
      ].join('\n');
      return ok(
        { ...common, imported: result.added.slice(0, 100), duplicates: result.duplicates.length },
        text,
      );
    },
  });
}
