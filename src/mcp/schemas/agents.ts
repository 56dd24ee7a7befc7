/** Output schema shared by the spawn tools of the core and agent categories. */
import { z } from 'zod';

export const agentRunSchema = z.object({
  archetype: z.string().optional(),
  model_choice: z
    .object({
      provider: z.string(),
      model: z.string(),
      tier: z.string(),
      worst_case_usd: z.number(),
      reason: z.string(),
    })
    .optional()
    .describe('With model "auto": what was picked and why'),
  output: z.string(),
  output_truncated: z.boolean(),
  provider: z.string(),
  model: z.string(),
  usage: z.object({ input_tokens: z.number(), output_tokens: z.number() }),
  cost_usd: z.number(),
  price_basis: z.string().describe('list, or unknown_model when priced at the conservative default'),
  latency_ms: z.number(),
  trail: z.array(
    z.object({
      provider: z.string(),
      model: z.string(),
      outcome: z.string(),
      attempts: z.number(),
      error: z.string().optional(),
    }),
  ),
  json: z
    .object({ valid: z.boolean(), violations: z.array(z.string()), value: z.unknown().optional() })
    .optional(),
  task: z
    .object({ id: z.string(), completed: z.boolean(), violations: z.array(z.string()).optional() })
    .optional(),
});

export const providerField = z.enum(['openai', 'gemini', 'anthropic', 'claude-code']);
