/**
 * The memory as a short-lived process sees it through the match index (matchIndex.ts), without
 * replaying the log: a check is answered from the index (and the events since), ranked and
 * assessed exactly as ImmuneSystem.check does without embeddings; recording it appends to the log
 * from the index's position, so nothing before is read either.
 */
import { assess, IMMUNE_DEFAULTS } from './assessment.js';
import type { AssessParams, CheckResult, MatchOptions } from './assessment.js';
import { MatchIndex } from './matchIndex.js';
import type { ImmuneEvent, ImmuneState } from './patterns.js';
import type { AnchoredEvent } from '../storage/eventStore.js';

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

/**
 * How far a database's index may be behind (events) and still be followed. Checks alone never
 * reindex (only a process that holds the whole memory writes one), so on a busy team database an
 * index falls behind; measured at 10,000 patterns: following 2,000 events 25 ms, 10,000 events
 * 90 ms, a replay 550 ms that leaves a fresh index for the next hooks. Past this, replay.
 */
const MAX_BEHIND = 2_000;

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

  /**
   * The memory of a database's log through the match index in `dir` (the store's local folder):
   * `from(seq)` answers the database's events from `seq` on with their anchors. Undefined when the
   * index is not this log's (the event at its position is another), or the events since cannot be
   * applied exactly: the caller replays then.
   */
  static async following(
    dir: string,
    from: (seq: number, limit: number) => Promise<AnchoredEvent[]>,
    options: IndexedOptions,
    now: () => number,
    appender: (start: AppendStart) => Promise<{ recordCheck(check: CheckResult): Promise<void> }>,
    maxBehind = MAX_BEHIND,
  ): Promise<IndexedMemory | undefined> {
    const index = MatchIndex.open(dir, { tail: false });
    if (!index) return undefined;
    try {
      const { seq, anchor } = index.header;
      // The event at the index's position, and up to `maxBehind` after it.
      const events = await from(seq, maxBehind + 1);
      // The index's last event must be the database's event at that number, written then.
      const same =
        seq === 0
          ? anchor === '' || anchor === undefined
          : events[0]?.seq === seq && events[0].anchor === anchor;
      const since = events
        .filter((e) => e.seq > seq)
        .map((e) => ({ seq: e.seq, event: e.event as ImmuneEvent }));
      // Further behind, a replay (which leaves a fresh index) costs less than following.
      if (same && since.length < maxBehind && index.follow(since))
        return new IndexedMemory(index, options, now, appender);
    } catch {
      // unreadable: replay
    }
    index.close();
    return undefined;
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
