/**
 * Agent archetypes: role prompts and temperatures as data (data/archetypes, overridable per
 * project in <state>/archetypes.json), validated when loaded.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { AppError } from '../core/errors.js';

const archetype = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9_-]{0,39}$/),
    description: z.string().min(1).max(300),
    temperature: z.number().min(0).max(2),
    system_prompt: z.string().min(1).max(20_000),
    max_tokens: z.number().int().positive().max(200_000).optional(),
  })
  .strict();

const file = z.object({ archetypes: z.array(archetype).min(1) }).strict();

export type Archetype = z.infer<typeof archetype>;

async function readFile(p: string): Promise<Archetype[] | undefined> {
  let text: string;
  try {
    text = await fs.readFile(p, 'utf8');
  } catch {
    return undefined;
  }
  const parsed = file.safeParse(JSON.parse(text));
  if (!parsed.success) {
    throw new AppError(
      'CONFIG_INVALID',
      `${p} is not a valid archetypes file: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  return parsed.data.archetypes;
}

/** Built-in archetypes, with same-named project ones replacing them. */
export async function loadArchetypes(dataDir: string, stateDir: string): Promise<Map<string, Archetype>> {
  const out = new Map<string, Archetype>();
  for (const a of (await readFile(path.join(dataDir, 'archetypes', 'archetypes.json'))) ?? [])
    out.set(a.name, a);
  for (const a of (await readFile(path.join(stateDir, 'archetypes.json'))) ?? []) out.set(a.name, a);
  return out;
}

/** @throws AppError NOT_FOUND listing the archetypes there are. */
export function requireArchetype(all: ReadonlyMap<string, Archetype>, name: string): Archetype {
  const a = all.get(name);
  if (!a)
    throw new AppError('NOT_FOUND', `No archetype "${name}"`, {
      hint: `Available: ${[...all.keys()].join(', ')} (archetype_info describes them)`,
    });
  return a;
}
