/**
 * Estimates how much of the client's context this server has cost: the tool definitions it
 * exposes (measured on each tools/list response) plus every result it returned. Past the reserve
 * threshold it asks tools for compact results and suggests categories to unload.
 *
 * Tokens come from a real BPE tokenizer (cl100k_base from gpt-tokenizer; Claude's tokenizer is not
 * public, so this is an estimate within ~10-20%). The tokenizer loads in the background after start;
 * until then a 4-characters-per-token estimate is used.
 */

export interface ContextTrackerOptions {
  /** Client context window in tokens. Default 200000. */
  budgetTokens?: number;
  /** Fraction of the budget that should stay free. Default 0.1. */
  reserveRatio?: number;
}

export interface ContextSnapshot {
  tokenizer: 'cl100k_base' | 'chars/4';
  budget_tokens: number;
  definitions_tokens: number;
  results_tokens: number;
  results_count: number;
  used_tokens: number;
  remaining_tokens: number;
  compact_mode: boolean;
  by_tool: Record<string, { calls: number; result_tokens: number }>;
}

type Counter = (text: string) => number;

/**
 * The part of tools/list that reaches the model: name, description and input schema. Clients
 * such as Claude Code pass these to the model API; titles, annotations and output schemas stay
 * with the client. Counting them would overstate the context cost.
 */
export function modelFacing(tools: readonly unknown[]): string {
  return JSON.stringify(
    tools.map((t) => {
      const { name, description, inputSchema } = t as {
        name?: unknown;
        description?: unknown;
        inputSchema?: unknown;
      };
      return { name, description, input_schema: inputSchema };
    }),
  );
}

/** Results are tokenized after this long without a new one... */
const IDLE_MS = 20;
/** ...or at once when this much text is waiting. */
const DRAIN_AT_CHARS = 64 * 1024;

/** Texts longer than this are estimated from a sample: exact counts of huge texts cost too much. */
const EXACT_LIMIT = 64 * 1024;

export class ContextTracker {
  private readonly budget: number;
  private readonly reserve: number;
  private counter: Counter | null = null;
  private loading: Promise<void> | null = null;
  private definitions = 0;
  private results = 0;
  private resultsCount = 0;
  private readonly byTool = new Map<string, { calls: number; result_tokens: number }>();
  /** Results not yet tokenized: counting waits until someone reads the figures, off the reply path. */
  private pending: Array<{ tool: string; text: string }> = [];
  private pendingChars = 0;
  private drainTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: ContextTrackerOptions = {}) {
    this.budget = options.budgetTokens ?? 200_000;
    this.reserve = options.reserveRatio ?? 0.1;
  }

  /** Loads the tokenizer; estimates are chars/4 until this resolves. Safe to call repeatedly. */
  load(): Promise<void> {
    this.loading ??= import('gpt-tokenizer/encoding/cl100k_base').then(
      (m) => {
        this.counter = (text) => m.countTokens(text);
      },
      () => {
        // Keep the chars/4 estimate; the tracker is advisory.
      },
    );
    return this.loading;
  }

  estimate(text: string): number {
    if (text.length === 0) return 0;
    const count = this.counter;
    if (!count) return Math.ceil(text.length / 4);
    if (text.length <= EXACT_LIMIT) return count(text);
    const sample = text.slice(0, EXACT_LIMIT);
    return Math.ceil((count(sample) / sample.length) * text.length);
  }

  /** Measures the tool definitions the client's model will see (see `modelFacing`). */
  recordDefinitions(tools: readonly unknown[]): void {
    this.definitions = this.estimate(modelFacing(tools));
  }

  /** Records a result the client received; its tokens are counted lazily. */
  recordResult(tool: string, text: string): void {
    this.resultsCount++;
    const entry = this.byTool.get(tool) ?? { calls: 0, result_tokens: 0 };
    entry.calls++;
    this.byTool.set(tool, entry);
    this.pending.push({ tool, text });
    this.pendingChars += text.length;
    if (this.pendingChars > DRAIN_AT_CHARS) {
      this.drain();
      return;
    }
    // Bookkeeping waits until the server is idle: counting tokens while the client is already
    // sending its next request would only delay that request.
    if (this.drainTimer) clearTimeout(this.drainTimer);
    this.drainTimer = setTimeout(() => this.drain(), IDLE_MS);
    this.drainTimer.unref?.();
  }

  private drain(): void {
    if (this.drainTimer) clearTimeout(this.drainTimer);
    this.drainTimer = undefined;
    const pending = this.pending;
    this.pending = [];
    this.pendingChars = 0;
    for (const { tool, text } of pending) {
      const tokens = this.estimate(text);
      this.results += tokens;
      const entry = this.byTool.get(tool);
      if (entry) entry.result_tokens += tokens;
    }
  }

  /** Exact once drained; until then results not yet counted are estimated at 4 chars per token. */
  get usedTokens(): number {
    return this.definitions + this.results + Math.ceil(this.pendingChars / 4);
  }

  get definitionsTokens(): number {
    return this.definitions;
  }

  /** True once less than the reserve fraction of the budget is left. */
  get compact(): boolean {
    return this.budget - this.usedTokens < this.budget * this.reserve;
  }

  /**
   * The figures now. Results of the last moments may not be tokenized yet (that happens after each
   * reply); they are included at 4 characters per token, so reading the figures never waits.
   */
  snapshot(): ContextSnapshot {
    const pendingTokens = Math.ceil(this.pendingChars / 4);
    return {
      tokenizer: this.counter ? 'cl100k_base' : 'chars/4',
      budget_tokens: this.budget,
      definitions_tokens: this.definitions,
      results_tokens: this.results + pendingTokens,
      results_count: this.resultsCount,
      used_tokens: this.usedTokens,
      remaining_tokens: Math.max(0, this.budget - this.usedTokens),
      compact_mode: this.compact,
      by_tool: Object.fromEntries([...this.byTool].map(([name, e]) => [name, { ...e }])),
    };
  }
}
