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

  /** Called after a transaction that recorded events has committed. */
  committed(events: readonly AuditEventV1[]): void {
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
  wait(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      this.waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
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
