import { z } from 'zod';
import type { Services } from '../../services.js';
import { defineTool, ok } from '../../tool.js';

const input = z
  .object({
    prompt: z.string().trim().min(1).max(200_000).describe('The prompt to assess'),
    tool: z
      .string()
      .max(80)
      .optional()
      .describe('The tool or operation it is for (e.g. spawn_agent, db_query)'),
  })
  .strict();

const output = z.object({
  probability: z.number().describe('Predicted probability of failure, 0-1'),
  risk_level: z.enum(['low', 'medium', 'high']).describe('high above 0.7, medium above 0.4'),
  confidence: z.number().describe('Agreement of the trees, 0-1'),
  top_features: z.array(z.object({ feature: z.string(), value: z.number(), contribution: z.number() })),
  model: z.object({ version: z.number(), created_at: z.string(), roc_auc: z.number(), samples: z.number() }),
});

export function predictRisk(services: Pick<Services, 'predictor'>) {
  return defineTool({
    name: 'predict_risk',
    title: 'Predict whether a prompt will fail',
    description:
      "The failure predictor's probability that a prompt (for a tool) fails, its risk level (high above 0.7), confidence, and the features that drove it. Needs a trained model (train_predictor); without one it says so instead of guessing.",
    inputSchema: input,
    outputSchema: output,
    annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    handler(args) {
      const p = services.predictor.predict(args.prompt, args.tool);
      return Promise.resolve(
        ok(
          p,
          `Failure probability ${p.probability} (${p.risk_level}, confidence ${p.confidence}; model v${p.model.version}, AUC ${p.model.roc_auc}). Top features: ${
            p.top_features
              .slice(0, 5)
              .map((f) => `${f.feature} ${f.contribution > 0 ? '+' : ''}${f.contribution}`)
              .join(', ') || 'none'
          }.`,
        ),
      );
    },
  });
}
