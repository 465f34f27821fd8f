import { Injectable, Logger } from '@nestjs/common';
import type { AuditEventV1 } from './audit-schema.js';

export type CommittedListener = (events: readonly AuditEventV1[]) => void;

/**
 * In-process news of committed events: wakes the dispatcher and the SSE streams at once instead of at their next
 * poll, and feeds per-instance metrics. Other instances' events are found by polling.
 */
@Injectable()
export class AuditNotifier {
  private readonly logger = new Logger('AuditNotifier');
  private readonly listeners = new Set<CommittedListener>();
  private waiters = new Set<() => void>();
  private commitCount = 0;
  private newestSeq = 0;
  /** For each append of this instance under way, newestSeq when it began: its seqs will be larger. */
  private readonly appending = new Set<{ readonly after: number }>();

  /**
   * How many commits have been announced. A reader that notes it before reading the table and finds it unchanged
   * afterwards knows its read saw every event this instance committed up to then (announcements follow COMMIT).
   */
  get commits(): number {
    return this.commitCount;
  }

  /**
   * The largest seq announced so far (0 before the first), or less while an append begun earlier is under way:
   * writers commit out of seq order, so this is the newest seq that every later commit of this instance exceeds.
   */
  get latestSeq(): number {
    let seq = this.newestSeq;
    for (const { after } of this.appending) if (after < seq) seq = after;
    return seq;
  }

  /** Called before an append draws its seqs; the returned call, once the append's transaction has ended, either way. */
  beginAppend(): () => void {
    const append = { after: this.newestSeq };
    this.appending.add(append);
    return () => this.appending.delete(append);
  }

  /** Runs `append`, a statement that draws seqs in a transaction of its own, as an append under way (beginAppend). */
  async whileAppending<T>(append: () => Promise<T>): Promise<T> {
    const ended = this.beginAppend();
    try {
      return await append();
    } finally {
      ended();
    }
  }

  /** Called after a transaction that recorded events has committed. */
  committed(events: readonly AuditEventV1[]): void {
    this.commitCount++;
    for (const event of events) if (event.seq > this.newestSeq) this.newestSeq = event.seq;
    for (const listener of this.listeners) {
      try {
        listener(events);
      } catch (error) {
        this.logger.warn({ msg: 'audit listener failed' }, error);
      }
    }
    const waiters = this.waiters;
    this.waiters = new Set();
    for (const wake of waiters) wake();
  }

  onCommitted(listener: CommittedListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves at the next commit, after `ms`, or when `signal` aborts, whichever comes first. */
  async wait(ms: number, signal?: AbortSignal): Promise<void> {
    await this.nextCommit(this.commitCount, ms, signal);
  }

  /**
   * True once a commit has been announced after `seen` (a value of `commits`): at once if one already was, else at
   * the next. False after `ms`, or when `signal` aborts, without one.
   */
  nextCommit(seen: number, ms: number, signal?: AbortSignal): Promise<boolean> {
    if (this.commitCount !== seen) return Promise.resolve(true);
    if (signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (committed: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(onCommit);
        signal?.removeEventListener('abort', onAbort);
        resolve(committed);
      };
      const onCommit = () => done(true);
      const onAbort = () => done(false);
      const timer = setTimeout(onAbort, ms);
      timer.unref();
      this.waiters.add(onCommit);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}

/** A sleep that ends early when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    timer.unref();
    signal?.addEventListener('abort', done, { once: true });
  });
}
