/** The shipped price table stays current: every default model is priced and not retired; lifecycle dates. */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MODELS } from '../../src/config/defaults.js';
import { loadPricing } from '../../src/cost/pricing.js';
import { selectModel } from '../../src/agents/modelSelection.js';

const dataDir = path.resolve(import.meta.dirname, '../../data');

describe('pricing and model lifecycle', () => {
  it('prices every default model, and none of them retires within 60 days', async () => {
    const pricing = await loadPricing(dataDir, '/nonexistent');
    for (const [provider, model] of Object.entries(DEFAULT_MODELS)) {
      expect(pricing.price(provider, model).basis, `${provider}/${model}`).toBe('list');
      expect(pricing.lifecycle(provider, model, Date.now()).status, `${provider}/${model}`).toBe('active');
    }
  });

  it('says when a model retires and what replaces it', async () => {
    const pricing = await loadPricing(dataDir, '/nonexistent');
    const at = (d: string) => Date.parse(`${d}T12:00:00Z`);
    expect(pricing.lifecycle('anthropic', 'claude-sonnet-4-5', at('2026-08-01')).status).toBe('active');
    expect(pricing.lifecycle('anthropic', 'claude-sonnet-4-5', at('2026-11-28'))).toEqual({
      status: 'retiring',
      retires: '2026-11-30',
      replacement: 'anthropic/claude-sonnet-4-6',
    });
    expect(pricing.lifecycle('anthropic', 'claude-sonnet-4-5', at('2026-12-01')).status).toBe('retired');
  });

  it('model "auto" never picks a retired model, and prefers active ones to retiring ones', async () => {
    const pricing = await loadPricing(dataDir, '/nonexistent');
    const configured = [{ name: 'anthropic' as const, defaultModel: 'claude-sonnet-4-6' }];
    const needs = { archetype: 'architect', promptChars: 100, structuredOutput: false };
    for (const day of ['2026-11-28', '2026-12-05'])
      expect(
        selectModel(configured, pricing.models(), pricing, { ...needs, now: Date.parse(`${day}T12:00:00Z`) })
          .model,
      ).toBe('claude-sonnet-4-6');
  });
});
