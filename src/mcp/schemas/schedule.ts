import { z } from 'zod';

export const jobSchema = z.object({
  id: z.string(),
  name: z.string(),
  kind: z.enum(['command', 'spawn']),
  command: z
    .object({
      command: z.string(),
      args: z.array(z.string()),
      cwd: z.string().optional(),
      timeout_s: z.number().optional(),
    })
    .optional(),
  spawn: z
    .object({
      prompt: z.string(),
      provider: z.string().optional(),
      model: z.string().optional(),
      archetype: z.string().optional(),
    })
    .optional(),
  when: z.object({
    run_at: z.string().optional(),
    every_s: z.number().optional(),
    cron: z.string().optional(),
  }),
  status: z.enum(['active', 'done', 'cancelled']),
  next_run: z.string().nullable(),
  created_by: z.string(),
  created_at: z.string(),
  run_count: z.number(),
  runs: z.array(
    z.object({
      due: z.string().optional().describe('The due time this run was claimed for'),
      at: z.string(),
      status: z.string(),
      ok: z.boolean(),
      message: z.string(),
      duration_ms: z.number(),
      owner: z.string(),
    }),
  ),
});
