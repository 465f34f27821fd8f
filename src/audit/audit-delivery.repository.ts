import { Injectable } from '@nestjs/common';
import { Database } from '../database/database.module.js';
import { params, runStatement, sql, statement } from '../database/sql.js';

/** A sink's delivery state as its worker holds it. */
export interface DeliveryState {
  deliveredSeq: number;
  attempts: number;
  /** How long until the next attempt is due (0: now), measured on the database clock. */
  waitMs: number;
}

export interface DeliveryStatus {
  sink: string;
  deliveredSeq: number;
  attempts: number;
  lastError: string | null;
  /** Undelivered events, and the age of the oldest (0 when caught up). */
  backlog: number;
  lagSeconds: number;
}

const p = params<{ sink: string; sinks: string[]; owner: string; leaseMs: number; force: boolean; seq: number; attempts: number; retryInMs: number; error: string }>();

const LEASE = sql`leased_by = ${p.owner}, lease_until = now() + (${p.leaseMs}::double precision * interval '1 millisecond'), updated_at = now()`;

export const ENSURE = statement(
  'audit_delivery_ensure',
  sql`INSERT INTO audit_deliveries (sink, delivered_seq) VALUES (${p.sink}, ${p.seq}) ON CONFLICT (sink) DO NOTHING`,
);
export const FORGET_ALL_BUT = statement('audit_delivery_forget_all_but', sql`DELETE FROM audit_deliveries WHERE NOT (sink = ANY(${p.sinks}::text[]))`);
export const CLAIM = statement(
  'audit_delivery_claim',
  sql`UPDATE audit_deliveries SET ${LEASE}
       WHERE sink = ${p.sink} AND (${p.force}::boolean OR leased_by IS NULL OR leased_by = ${p.owner} OR lease_until < now())
       RETURNING delivered_seq::text AS seq, attempts,
         greatest(0, coalesce(extract(epoch FROM next_attempt_at - now()) * 1000, 0))::double precision AS wait_ms`,
).returning<{ seq: string; attempts: number; wait_ms: number | string }>();
export const ADVANCE = statement(
  'audit_delivery_advance',
  sql`UPDATE audit_deliveries SET ${LEASE}, delivered_seq = ${p.seq}::bigint, attempts = 0, next_attempt_at = NULL, last_error = NULL, last_delivered_at = now()
       WHERE sink = ${p.sink} AND leased_by = ${p.owner} RETURNING sink`,
);
export const FAIL = statement(
  'audit_delivery_fail',
  sql`UPDATE audit_deliveries SET ${LEASE}, attempts = ${p.attempts}, next_attempt_at = now() + (${p.retryInMs}::double precision * interval '1 millisecond'), last_error = ${p.error}
       WHERE sink = ${p.sink} AND leased_by = ${p.owner} RETURNING sink`,
);
export const SKIP_TO = statement(
  'audit_delivery_skip_to',
  sql`UPDATE audit_deliveries SET delivered_seq = greatest(delivered_seq, ${p.seq}::bigint), updated_at = now()
       WHERE sink = ${p.sink} AND (${p.force}::boolean OR leased_by IS NULL OR leased_by = ${p.owner} OR lease_until < now())`,
);
export const RELEASE = statement('audit_delivery_release', sql`UPDATE audit_deliveries SET leased_by = NULL, lease_until = NULL WHERE sink = ${p.sink} AND leased_by = ${p.owner}`);
export const LOWEST_DELIVERED = statement('audit_delivery_lowest', sql`SELECT min(delivered_seq)::text AS seq FROM audit_deliveries`).returning<{ seq: string | null }>();
export const STATUS = statement(
  'audit_delivery_status',
  sql`SELECT d.sink, d.delivered_seq::text AS seq, d.attempts, d.last_error,
         (SELECT count(*) FROM audit_events e WHERE e.seq > d.delivered_seq)::int AS backlog,
         coalesce(extract(epoch FROM now() - (SELECT min(e.occurred_at) FROM audit_events e WHERE e.seq > d.delivered_seq)), 0)::double precision AS lag
       FROM audit_deliveries d ORDER BY d.sink`,
).returning<{ sink: string; seq: string; attempts: number; last_error: string | null; backlog: number; lag: number | string }>();

/**
 * `audit_deliveries`: per sink, the seq delivered up to, the retry state, and a lease. Every write is conditional
 * on holding the lease, so two instances on one PostgreSQL database never deliver the same sink at once.
 */
@Injectable()
export class AuditDeliveryRepository {
  constructor(private readonly database: Database) {}

  /**
   * A sink seen for the first time starts after `seq`, the audit horizon (AuditEventRepository.horizon): it receives
   * what happens from now on, and nothing committing meanwhile with a smaller seq is lost.
   */
  async ensure(sink: string, seq: number): Promise<void> {
    await runStatement(this.database.manager, ENSURE, { sink, seq });
  }

  /** Forgets sinks no longer configured, so their cursors stop holding back retention. */
  async forgetAllBut(sinks: string[]): Promise<void> {
    await runStatement(this.database.manager, FORGET_ALL_BUT, { sinks });
  }

  /** Takes or renews the lease (`force`: ignore another holder, when no other instance can exist). */
  async claim(sink: string, owner: string, leaseMs: number, force: boolean): Promise<DeliveryState | null> {
    const [row] = await runStatement(this.database.manager, CLAIM, { sink, owner, leaseMs, force });
    return row ? { deliveredSeq: Number(row.seq), attempts: row.attempts, waitMs: Number(row.wait_ms) } : null;
  }

  /** Records delivery up to `seq`; false if the lease was lost (another instance took over). */
  async advance(sink: string, owner: string, leaseMs: number, seq: number): Promise<boolean> {
    return (await runStatement(this.database.manager, ADVANCE, { sink, owner, leaseMs, seq })).length === 1;
  }

  /** Records a failed attempt and when to try again; false if the lease was lost. */
  async fail(sink: string, owner: string, leaseMs: number, attempts: number, retryInMs: number, error: string): Promise<boolean> {
    return (await runStatement(this.database.manager, FAIL, { sink, owner, leaseMs, attempts, retryInMs, error: error.slice(0, 500) })).length === 1;
  }

  /**
   * Moves the cursor forward to `seq`, never back, unless another instance holds the lease (`force`: ignore that).
   * For a sink with nobody to deliver to: what it skips, nobody would have received.
   */
  async skipTo(sink: string, owner: string, seq: number, force: boolean): Promise<void> {
    await runStatement(this.database.manager, SKIP_TO, { sink, owner, seq, force });
  }

  async release(sink: string, owner: string): Promise<void> {
    await runStatement(this.database.manager, RELEASE, { sink, owner });
  }

  /** The lowest seq every sink has delivered: events after it must be kept. Null when there are no sinks. */
  async lowestDelivered(): Promise<number | null> {
    const [row] = await runStatement(this.database.manager, LOWEST_DELIVERED, {});
    const seq = row?.seq;
    return seq === null || seq === undefined ? null : Number(seq);
  }

  async status(): Promise<DeliveryStatus[]> {
    const rows = await runStatement(this.database.manager, STATUS, {});
    return rows.map((row) => ({
      sink: row.sink,
      deliveredSeq: Number(row.seq),
      attempts: row.attempts,
      lastError: row.last_error,
      backlog: row.backlog,
      lagSeconds: Math.max(0, Number(row.lag)),
    }));
  }
}
