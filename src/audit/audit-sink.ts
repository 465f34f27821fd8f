import type { AuditEventV1 } from './audit-schema.js';

/**
 * Somewhere audit events go. The dispatcher feeds each sink from its own cursor in `audit_deliveries`, in seq order,
 * `batchSize` events at a time, and moves the cursor only when deliver() resolves: at-least-once, in order, and a
 * failing event holds back the ones after it (for that sink only) until it goes through.
 */
export interface AuditSink {
  /** Stable across restarts: the key of the sink's cursor. */
  readonly id: string;
  readonly batchSize: number;
  /** Delivers every event or rejects (the batch is retried with backoff). Should stop early when `signal` aborts. */
  deliver(events: readonly AuditEventV1[], signal: AbortSignal): Promise<void>;
  close?(): Promise<void>;
  /**
   * For a sink that may have nobody to deliver to (the in-process hooks without a listener): false while so. The
   * dispatcher then reads nothing for it; once it is true again, delivery starts with the events committed from then
   * on. Absent: always true.
   */
  isActive?(): boolean;
  /** Calls `listener` whenever isActive() may have changed; returns a function that stops it. */
  onActivityChange?(listener: () => void): () => void;
}

/** The sinks the dispatcher feeds: the configured ones, the in-process hooks, and any an embedder adds. */
export const AUDIT_SINKS = Symbol('AUDIT_SINKS');
