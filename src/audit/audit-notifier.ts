import { Injectable, Logger } from '@nestjs/common';
import type { AuditEventV1 } from './audit-schema.js';

export type CommittedListener = (events: readonly AuditEventV1[]) => void;

/**
 * This instance's committed events held for delivery to read from memory: about five sink batches, some 5 MB at
 * most. A sink further behind reads the table.
 */
const RECENT_EVENTS = 1000;

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
  /** The last RECENT_EVENTS events announced, by seq, oldest first. */
  private readonly recent = new Map<number, AuditEventV1>();

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
    for (const event of events) {
      if (event.seq > this.newestSeq) this.newestSeq = event.seq;
      freeze(event);
      this.recent.set(event.seq, event);
    }
    for (const seq of this.recent.keys()) {
      if (this.recent.size <= RECENT_EVENTS) break;
      this.recent.delete(seq);
    }
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

  /**
   * The events after `seq` up to `upTo` (a horizon), at most `limit`, when this instance announced every seq of
   * that run and still holds them; otherwise null, and the table must be read: a seq missing from the run may be
   * another instance's event, or one drawn by a transaction that rolled back, which only the table can tell apart.
   */
  committedAfter(seq: number, upTo: number, limit: number): AuditEventV1[] | null {
    const run: AuditEventV1[] = [];
    for (let next = seq + 1; next <= upTo && run.length < limit; next++) {
      const event = this.recent.get(next);
      if (!event) return null;
      run.push(event);
    }
    return run;
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

/** Frozen through: one event object reaches every listener, sink and stream, so none may change what the others see. */
function freeze(value: unknown): void {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const member of Object.values(value)) freeze(member);
}
