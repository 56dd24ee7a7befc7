import { z } from 'zod';

/** A hub entry as tools return it. */
export const hubPattern = z.object({
  hub_id: z.string().describe('project/pattern_id: pass to federation_import'),
  project: z.string(),
  pattern_id: z.string(),
  operation: z.string(),
  failure_type: z.string(),
  model: z.string().optional(),
  prompt_summary: z.string(),
  occurrences: z.number(),
  saves: z.number(),
  strength: z.number().describe('Strength when the source last reinforced it'),
  last_seen: z.string(),
  updated_at: z.string(),
  similarity: z.number().optional(),
});

export const conflict = z.object({
  pattern_id: z.string(),
  project: z.string(),
  kept: z.enum(['hub', 'incoming']),
  reason: z.string(),
});
