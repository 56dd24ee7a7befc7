import { z } from 'zod';

const skill = z.object({ pass: z.boolean(), detail: z.string() });

export const workerProfileSchema = z.object({
  provider: z.string(),
  model: z.string(),
  status: z.enum(['active', 'limited', 'blocked']),
  reasons: z.array(z.string()),
  skills: z.object({
    instruction_following: skill,
    structured_json: skill,
    summarisation: skill,
    code_understanding: skill,
    typescript_codegen: skill,
    calibration: skill,
  }),
  interviewed_at: z.string(),
  trust: z.number().describe('Weighted share of graded runs that passed since the interview'),
  runs_since_interview: z.number(),
  failures_since_interview: z.number(),
  demoted_at: z.string().optional(),
  interview_cost_usd: z.number().optional().describe("What the interview's calls cost"),
});
