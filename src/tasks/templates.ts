/**
 * Task templates: a parent task and its subtasks with dependencies, as JSON files. Built-ins ship
 * in data/templates; a project adds or overrides them in <state>/templates. Every file is
 * validated; an invalid one is reported, never fatal.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { AppError } from '../core/errors.js';
import { DEPENDENCY_KINDS, PRIORITIES } from './model.js';
import type { NewTask } from './batch.js';

const templateTask = z
  .object({
    ref: z.string().regex(/^[a-z][a-z0-9_-]{0,39}$/),
    title: z.string().min(1).max(200),
    description: z.string().max(4000).optional(),
    priority: z.enum(PRIORITIES).optional(),
    specialist: z.string().max(60).optional(),
    tags: z.array(z.string().max(40)).max(20).optional(),
    estimate_hours: z.number().positive().max(10_000).optional(),
    depends_on: z
      .array(z.union([z.string(), z.object({ task: z.string(), kind: z.enum(DEPENDENCY_KINDS) }).strict()]))
      .max(50)
      .optional(),
  })
  .strict();

const templateSchema = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9_-]{0,39}$/),
    description: z.string().min(1).max(500),
    parent: z
      .object({
        title: z.string().min(1).max(200),
        description: z.string().max(4000).optional(),
        priority: z.enum(PRIORITIES).optional(),
        tags: z.array(z.string().max(40)).max(20).optional(),
      })
      .strict(),
    tasks: z.array(templateTask).min(1).max(100),
  })
  .strict()
  .superRefine((t, ctx) => {
    const refs = new Set<string>();
    for (const task of t.tasks) {
      if (refs.has(task.ref)) ctx.addIssue({ code: 'custom', message: `ref "${task.ref}" appears twice` });
      refs.add(task.ref);
    }
    for (const task of t.tasks) {
      for (const d of task.depends_on ?? []) {
        const ref = typeof d === 'string' ? d : d.task;
        if (!refs.has(ref))
          ctx.addIssue({ code: 'custom', message: `${task.ref} depends on unknown ref "${ref}"` });
      }
    }
  });

export type Template = z.infer<typeof templateSchema>;

export interface TemplateCatalog {
  templates: Array<Template & { origin: 'built-in' | 'project'; file: string }>;
  invalid: Array<{ file: string; error: string }>;
}

async function readDir(dir: string, origin: 'built-in' | 'project', out: TemplateCatalog): Promise<void> {
  let names: string[];
  try {
    names = (await fs.readdir(dir)).filter((n) => n.endsWith('.json')).sort();
  } catch {
    return;
  }
  for (const name of names) {
    const file = path.join(dir, name);
    try {
      const parsed = templateSchema.safeParse(JSON.parse(await fs.readFile(file, 'utf8')));
      if (!parsed.success) {
        out.invalid.push({
          file,
          error: parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '),
        });
        continue;
      }
      out.templates = out.templates.filter((t) => t.name !== parsed.data.name);
      out.templates.push({ ...parsed.data, origin, file });
    } catch (error) {
      out.invalid.push({ file, error: (error as Error).message });
    }
  }
}

/** Built-ins first; project templates of the same name replace them. */
export async function loadTemplates(dataDir: string, stateDir: string): Promise<TemplateCatalog> {
  const out: TemplateCatalog = { templates: [], invalid: [] };
  await readDir(path.join(dataDir, 'templates'), 'built-in', out);
  await readDir(path.join(stateDir, 'templates'), 'project', out);
  return out;
}

const PLACEHOLDER = /\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}/gi;

function fill(text: string, params: Record<string, string>): string {
  return text.replace(PLACEHOLDER, (whole, key: string) => params[key] ?? whole);
}

/** The placeholders a template uses, in order of first appearance. */
function templatePlaceholders(template: Template): string[] {
  const texts = [
    template.parent.title,
    template.parent.description ?? '',
    ...template.tasks.flatMap((t) => [t.title, t.description ?? '']),
  ];
  return [...new Set(texts.flatMap((t) => [...t.matchAll(PLACEHOLDER)].map((m) => m[1]!)))];
}

/**
 * The batch tasks_add would create for a template: the parent (ref `parent`) and its subtasks.
 * @throws AppError NOT_FOUND naming the available templates.
 */
export function expandTemplate(
  catalog: TemplateCatalog,
  name: string,
  params: Record<string, string>,
  overrides: { parent?: string; priority?: NewTask['priority']; due?: string },
): NewTask[] {
  const template = catalog.templates.find((t) => t.name === name);
  if (!template) {
    const invalid = catalog.invalid.length
      ? `; invalid template files: ${catalog.invalid.map((i) => path.basename(i.file)).join(', ')}`
      : '';
    throw new AppError('NOT_FOUND', `No template "${name}"`, {
      hint: `Available: ${catalog.templates.map((t) => t.name).join(', ')}${invalid}`,
    });
  }
  // A task titled "Migrate {{table}}" helps nobody: every placeholder needs its value.
  const missing = templatePlaceholders(template).filter(
    (k) => params[k] === undefined || params[k].trim() === '',
  );
  if (missing.length > 0)
    throw new AppError(
      'INVALID_INPUT',
      `Template "${name}" needs ${missing.map((k) => `{{${k}}}`).join(', ')}`,
      {
        hint: `Pass params: {${missing
          .filter((k) => k !== 'title')
          .map((k) => `"${k}": "..."`)
          .join(', ')}}${missing.includes('title') ? ' and title' : ''}`,
      },
    );
  const parentRef = '__parent';
  const parent: NewTask = {
    ref: parentRef,
    title: fill(template.parent.title, params),
    source: 'template',
    tags: template.parent.tags ?? [],
    ...(template.parent.description ? { description: fill(template.parent.description, params) } : {}),
    ...((overrides.priority ?? template.parent.priority)
      ? { priority: overrides.priority ?? template.parent.priority }
      : {}),
    ...(overrides.parent ? { parent: overrides.parent } : {}),
    ...(overrides.due ? { due: overrides.due } : {}),
  };
  const children: NewTask[] = template.tasks.map((t) => ({
    ref: t.ref,
    title: fill(t.title, params),
    parent: parentRef,
    source: 'template',
    tags: t.tags ?? template.parent.tags ?? [],
    ...(t.description ? { description: fill(t.description, params) } : {}),
    ...(t.priority ? { priority: t.priority } : {}),
    ...(t.specialist ? { specialist: t.specialist } : {}),
    ...(t.estimate_hours !== undefined ? { estimate_hours: t.estimate_hours } : {}),
    ...(overrides.due ? { due: overrides.due } : {}),
    depends_on: (t.depends_on ?? []).map((d) => (typeof d === 'string' ? { task: d } : d)),
  }));
  return [parent, ...children];
}
