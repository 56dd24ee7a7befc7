/**
 * One run this process drives, and everything that lives only while it does: its abort
 * controller, the loop's slots, what its calls in flight have reserved of the budget, the budget
 * stop, the leader's summaries being written, and the answers still being judged with the
 * dependents started on them.
 */
/**
 * The concurrency of a run driven here: slots are taken synchronously before the claims are
 * written (so the loop and finishing nodes never start more than the concurrency between them),
 * then each is used to launch a node or given back.
 */
export interface Slots {
  /** Takes up to `n` free slots; `own`: the caller's node is finishing and counts its slot as free. */
  take(n: number, own?: boolean): number;
  give(k: number): void;
  /** Starts a node in a taken slot. */
  launch(task: string): void;
  /**
   * A node whose answer waits only for its judges makes no worker call: its slot is free for
   * another node meanwhile (`on`), and taken again when the verdict is in (`off`).
   */
  judging(task: string, on: boolean): void;
}

export class ActiveRun {
  readonly controller = new AbortController();
  /** Resolves when the loop stops. */
  ended: Promise<void> = Promise.resolve();
  /** Resolves once the lease is let go too. */
  done: Promise<void> = Promise.resolve();
  /**
   * How many more nodes the loop may start, and how to start one, while it runs. A finishing
   * node uses it to start the dependents it made ready in the same write that records it done.
   */
  slots: Slots | undefined;
  /** Worst-case cost of the worker calls in flight, not yet spent. */
  reserved = 0;
  /** A call could pass the run's budget: nothing more starts. */
  budgetStop = false;
  /** Summaries being written, by task: dependents starting together share one leader call. */
  readonly digests = new Map<string, Promise<boolean>>();
  /**
   * Answers whose code graders passed while their judges are out, by task: dependents may start
   * on them; `done` settles true once the node is done, false if it is not.
   */
  readonly provisional = new Map<string, { output: string; done: Promise<boolean> }>();
  /** Dependents started on provisional answers, by task: aborted and put back if one fails. */
  readonly speculative = new Map<string, { controller: AbortController; parents: string[] }>();
}
