/**
 * Collects work items issued in the same event-loop turn into one batch, runs batches one at a
 * time, and can wait until everything queued so far has run. The stores use it to pay for one
 * lock, one write and one fsync per burst instead of per call.
 */
export class Batcher<I> {
  private pending: I[] = [];
  private tail: Promise<void> = Promise.resolve();
  private queued = false;

  /** `run` must settle every item it receives (resolve or reject) and must not throw. */
  constructor(private readonly run: (batch: I[]) => Promise<void>) {}

  add(item: I): void {
    this.pending.push(item);
    if (this.queued) return;
    this.queued = true;
    // setImmediate lets every item issued in the same turn join this batch.
    this.tail = this.tail
      .then(() => new Promise<void>((resolve) => setImmediate(resolve)))
      .then(() => {
        this.queued = false;
        return this.run(this.pending.splice(0));
      });
  }

  /** Resolves when every item added so far has been run. */
  async flush(): Promise<void> {
    // Items added while a batch runs join a later one; loop until none are left.
    while (this.pending.length > 0 || this.queued) await this.tail;
    await this.tail;
  }
}
