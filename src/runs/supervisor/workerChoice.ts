/** Who does a node: the onboarded workers fit for it (trust, then price), the leader, what a call may cost, what the leader reviews. */
import type { ProviderName } from '../../agents/providers/types.js';
import { eligible } from '../../agents/workers.js';
import type { Run, RunNode } from '../runModel.js';
import type { SupervisorDeps, Worker } from './types.js';

export class WorkerChoice {
  constructor(readonly deps: SupervisorDeps) {}

  /** Onboarded workers a node may get, best first (trust, then price). */
  async candidates(run: Run, node: RunNode, hasSchema: boolean): Promise<Worker[]> {
    const configured = new Set(this.deps.spawn.targetsAvailable.map((t) => t.name as string));
    const full = await this.deps.workers.list();
    const profiles = Object.fromEntries(full.map((p) => [`${p.provider}/${p.model}`, p]));
    const kind = { archetype: node.specialist, structuredOutput: hasSchema };
    return full
      .filter((p) => configured.has(p.provider))
      .filter((p) => !run.options.workers || run.options.workers.includes(`${p.provider}/${p.model}`))
      .filter((p) => !node.excluded.includes(`${p.provider}/${p.model}`))
      .filter((p) => eligible(profiles, p.provider, p.model, kind).ok)
      .map((p) => ({
        id: `${p.provider}/${p.model}`,
        provider: p.provider as ProviderName,
        model: p.model,
        status: p.status,
        trust: p.trust,
      }))
      .sort((a, b) => {
        if (b.trust !== a.trust) return b.trust - a.trust;
        const pa = this.deps.pricing.price(a.provider, a.model);
        const pb = this.deps.pricing.price(b.provider, b.model);
        return pa.input_per_mtok + pa.output_per_mtok - (pb.input_per_mtok + pb.output_per_mtok);
      });
  }

  leaderOf(run: Pick<Run, 'options'>): { provider?: ProviderName; model?: string } | undefined {
    if (run.options.leader) {
      const [provider, ...model] = run.options.leader.split('/');
      return { provider: provider as ProviderName, ...(model.length ? { model: model.join('/') } : {}) };
    }
    const first = this.deps.spawn.targetsAvailable[0];
    return first ? { provider: first.name, model: first.defaultModel } : undefined;
  }

  asWorker(id: string): Worker {
    const [provider, ...model] = id.split('/');
    return { id, provider: provider as ProviderName, model: model.join('/'), status: 'active', trust: 1 };
  }

  worstCost(provider: string, model: string, promptChars: number, maxTokens: number): number {
    return this.deps.pricing.cost(provider, model, Math.ceil(promptChars / 3) + 16, maxTokens);
  }

  needsReview(run: Run, node: RunNode, worker?: { status: string }): boolean {
    if (run.options.review === 'none') return false;
    if (run.options.review === 'all') return true;
    return node.critical || worker?.status === 'limited';
  }
}
