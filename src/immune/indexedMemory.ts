/**
 * The memory as a short-lived process sees it through the match index (matchIndex.ts), without
 * replaying the log: a check is answered from the index (and the events since), ranked and
 * assessed exactly as ImmuneSystem.check does without embeddings; recording it appends to the log
 * from the index's position, so nothing before is read either.
 */
import { assess, IMMUNE_DEFAULTS } from './assessment.js';
import type { AssessParams, CheckResult, MatchOptions } from './assessment.js';
import { MatchIndex } from './matchIndex.js';
import type { ImmuneState } from './patterns.js';

/** Thresholds as ImmuneOptions names them (defaults where absent). */
export interface IndexedOptions {
  matchThreshold?: number;
  blockThreshold?: number;
  mergeThreshold?: number;
  blockAfter?: number;
}

/** Where to append from: the index's position and the patterns changed since (ImmuneOptions.start). */
export interface AppendStart {
  seq: number;
  offsets: Record<string, number>;
  state: ImmuneState;
}

export class IndexedMemory {
  private readonly params: AssessParams & { matchThreshold: number };

  private constructor(
    private readonly index: MatchIndex,
    options: IndexedOptions,
    private readonly now: () => number,
    private readonly appender: (
      start: AppendStart,
    ) => Promise<{ recordCheck(check: CheckResult): Promise<void> }>,
  ) {
    this.params = {
      matchThreshold: options.matchThreshold ?? IMMUNE_DEFAULTS.matchThreshold,
      blockThreshold: options.blockThreshold ?? IMMUNE_DEFAULTS.blockThreshold,
      mergeThreshold: options.mergeThreshold ?? IMMUNE_DEFAULTS.mergeThreshold,
      blockAfter: options.blockAfter ?? IMMUNE_DEFAULTS.blockAfter,
      keepLocal: () => false,
    };
  }

  /**
   * The memory of the immune log in `dir` through its match index; undefined when there is none
   * that matches the log (the caller replays the log instead, and may write a fresh index).
   */
  static open(
    dir: string,
    options: IndexedOptions,
    now: () => number,
    appender: (start: AppendStart) => Promise<{ recordCheck(check: CheckResult): Promise<void> }>,
  ): IndexedMemory | undefined {
    const index = MatchIndex.open(dir);
    return index && new IndexedMemory(index, options, now, appender);
  }

  /** As ImmuneSystem.check without embeddings or a judge (which a hook never uses offline). */
  check(prompt: string, operation?: string, options: MatchOptions = {}): Promise<CheckResult> {
    const ranked = this.index.rank(prompt, this.params.matchThreshold, 5);
    return Promise.resolve(
      assess(ranked, prompt, operation, options, this.params, { stage: 'tfidf' }, this.now()),
    );
  }

  /** Appends the check to the log from the index's position (ImmuneSystem.recordCheck). */
  async recordCheck(check: CheckResult): Promise<void> {
    const writer = await this.appender({ ...this.index.at, state: this.index.changed });
    await writer.recordCheck(check);
  }

  close(): void {
    this.index.close();
  }
}
