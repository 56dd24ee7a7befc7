/**
 * Model prices per million tokens (data/pricing.json, overridable per project). Models not in the
 * table are priced at the conservative `unknown_model` rate and flagged, never assumed free.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { AppError } from '../core/errors.js';

const price = z.object({ input: z.number().min(0), output: z.number().min(0) }).strict();
const modelEntry = price
  .extend({
    /** The provider's announced retirement date (requests fail from then on). */
    retires: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}$/)
      .optional(),
    /** What the provider recommends instead, as provider/model. */
    replacement: z.string().optional(),
    /** `embedding` models are priced here but never chosen to answer or judge. Default chat. */
    kind: z.enum(['chat', 'embedding']).optional(),
  })
  .strict();
const pricingSchema = z
  .object({
    as_of: z.string(),
    source: z.string().optional(),
    currency: z.literal('USD'),
    unit: z.literal('per 1M tokens'),
    models: z.record(z.string(), modelEntry),
    unknown_model: price,
    /** The price tier LLM judges run on (fast: output <= $1/Mtok, balanced: <= $10, strong: above). */
    judge_tier: z.enum(['fast', 'balanced', 'strong']).optional(),
  })
  .strict();

export type PricingTable = z.infer<typeof pricingSchema>;

export interface Price {
  input_per_mtok: number;
  output_per_mtok: number;
  /** `list`: from the table; `unknown_model`: the conservative default. */
  basis: 'list' | 'unknown_model';
  as_of: string;
}

export class Pricing {
  constructor(private readonly table: PricingTable) {}

  price(provider: string, model: string): Price {
    const entry = this.table.models[`${provider}/${model}`];
    const p = entry ?? this.table.unknown_model;
    return {
      input_per_mtok: p.input,
      output_per_mtok: p.output,
      basis: entry ? 'list' : 'unknown_model',
      as_of: this.table.as_of,
    };
  }

  /**
   * Where a model is in its life: `retired` from its retirement date on, `retiring` within
   * `warnDays` of it, otherwise `active` (also for models the table does not know).
   */
  lifecycle(
    provider: string,
    model: string,
    now: number,
    warnDays = 60,
  ): { status: 'active' | 'retiring' | 'retired'; retires?: string; replacement?: string } {
    const entry = this.table.models[`${provider}/${model}`];
    if (!entry?.retires) return { status: 'active' };
    const at = Date.parse(`${entry.retires}T00:00:00Z`);
    const status = now >= at ? 'retired' : now >= at - warnDays * 86_400_000 ? 'retiring' : 'active';
    return {
      status,
      retires: entry.retires,
      ...(entry.replacement ? { replacement: entry.replacement } : {}),
    };
  }

  /** The tier judges run on (default fast). */
  get judgeTier(): 'fast' | 'balanced' | 'strong' {
    return this.table.judge_tier ?? 'fast';
  }

  /** Every priced chat model as `provider/model` (embedding models are not candidates to answer). */
  models(): string[] {
    return Object.entries(this.table.models)
      .filter(([, m]) => (m.kind ?? 'chat') === 'chat')
      .map(([name]) => name);
  }

  /** Cost in USD of the given token counts. */
  cost(provider: string, model: string, inputTokens: number, outputTokens: number): number {
    const p = this.price(provider, model);
    return (inputTokens * p.input_per_mtok + outputTokens * p.output_per_mtok) / 1_000_000;
  }
}

/**
 * The shipped table, with a project's `<state>/pricing.json` merged over it.
 * @throws AppError CONFIG_INVALID naming the bad file.
 */
export async function loadPricing(dataDir: string, stateDir: string): Promise<Pricing> {
  const read = async (file: string) => {
    const parsed = pricingSchema.safeParse(JSON.parse(await fs.readFile(file, 'utf8')));
    if (!parsed.success) {
      throw new AppError(
        'CONFIG_INVALID',
        `${file} is not a valid pricing table: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
    }
    return parsed.data;
  };
  const base = await read(path.join(dataDir, 'pricing.json'));
  const overrideFile = path.join(stateDir, 'pricing.json');
  const override = await fs.access(overrideFile).then(
    () => read(overrideFile),
    () => undefined,
  );
  return new Pricing(
    override ? { ...base, ...override, models: { ...base.models, ...override.models } } : base,
  );
}
