/** Calls `run` after `ms`; the returned function cancels it. */
export type Schedule = (run: () => void, ms: number) => () => void;

/** setTimeout, unref'd: a pending write must not keep a process alive (shutdown flushes explicitly). */
export const scheduleWithTimers: Schedule = (run, ms) => {
  const timer = setTimeout(run, ms);
  timer.unref();
  return () => clearTimeout(timer);
};

export interface WriteBehindLimits {
  /** The longest an item waits before its batch is written. */
  maxDelayMs: number;
  /** Items per write; this many waiting are written at once, without waiting for the delay. */
  batchSize: number;
  /** Items held at most, waiting or being written; more are dropped, so a dead database cannot grow memory without bound. */
  maxPending: number;
}

/** What happens to items; called synchronously, must not throw. */
export interface WriteBehindReport {
  /** A write failed; `retrying` items are kept for one more attempt, `dropped` ones had had theirs. */
  failed(error: unknown, counts: { retrying: number; dropped: number }): void;
  /** An item was refused because `maxPending` items were already held. */
  refused(): void;
}

interface Entry<T> {
  item: T;
  attempts: number;
}

/**
 * An in-memory queue written in batches: at most one write at a time, a batch at most every `maxDelayMs` (or as soon
 * as `batchSize` items wait), items in the order they were pushed. A failed write is retried once, with its items
 * ahead of newer ones, after the delay; a second failure drops them (reported). `close()` writes everything still held
 * and makes later pushes write at once.
 */
export class WriteBehindQueue<T> {
  private readonly pending: Array<Entry<T>> = [];
  private inFlight = 0;
  private writing: Promise<void> | null = null;
  private cancelTimer: (() => void) | null = null;
  private closed = false;

  constructor(
    private readonly write: (items: T[]) => Promise<void>,
    private readonly limits: WriteBehindLimits,
    private readonly report: WriteBehindReport,
    private readonly schedule: Schedule = scheduleWithTimers,
  ) {}

  /** Items held: waiting, or in the write under way. */
  get size(): number {
    return this.pending.length + this.inFlight;
  }

  /** Queues `item`; false if it was dropped because the queue is full. */
  push(item: T): boolean {
    if (this.size >= this.limits.maxPending) {
      this.report.refused();
      return false;
    }
    this.pending.push({ item, attempts: 0 });
    // While a write is under way, its end decides what comes next.
    if (!this.writing) {
      if (this.closed || this.pending.length >= this.limits.batchSize) this.start();
      else this.arm();
    }
    return true;
  }

  /** Resolves once everything pushed before (and during) the call has been written or dropped. */
  async flush(): Promise<void> {
    for (;;) {
      if (this.writing) await this.writing;
      else if (this.pending.length > 0) this.start();
      else return;
    }
  }

  /** Flushes; from then on every push is written at once. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  private arm(): void {
    this.cancelTimer ??= this.schedule(() => {
      this.cancelTimer = null;
      this.start();
    }, this.limits.maxDelayMs);
  }

  private start(): void {
    if (this.writing || this.pending.length === 0) return;
    this.cancelTimer?.();
    this.cancelTimer = null;
    this.writing = this.writeBatch().then(() => {
      this.writing = null;
      if (this.pending.length === 0) return;
      if (this.closed || this.pending.length >= this.limits.batchSize) this.start();
      else this.arm();
    });
  }

  /** Writes the oldest batch; never rejects. */
  private async writeBatch(): Promise<void> {
    const batch = this.pending.splice(0, this.limits.batchSize);
    this.inFlight = batch.length;
    try {
      await this.write(batch.map((entry) => entry.item));
    } catch (error) {
      const retry = batch.filter((entry) => entry.attempts === 0);
      for (const entry of retry) entry.attempts++;
      this.pending.unshift(...retry);
      this.report.failed(error, { retrying: retry.length, dropped: batch.length - retry.length });
    } finally {
      this.inFlight = 0;
    }
  }
}
