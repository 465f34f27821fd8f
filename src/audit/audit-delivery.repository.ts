import { Injectable } from '@nestjs/common';
import { Database } from '../database/database.module.js';

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

/** Rows of a raw UPDATE … RETURNING: TypeORM hands back [rows, count] for it. */
function updatedRows<T>(result: unknown): T[] {
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') return result[0] as T[];
  return Array.isArray(result) ? (result as T[]) : [];
}

const LEASE = `leased_by = $2, lease_until = now() + ($3::double precision * interval '1 millisecond'), updated_at = now()`;

/**
 * `audit_deliveries`: per sink, the seq delivered up to, the retry state, and a lease. Every write is conditional
 * on holding the lease, so two instances on one PostgreSQL database never deliver the same sink at once.
 */
@Injectable()
export class AuditDeliveryRepository {
  constructor(private readonly database: Database) {}

  /** A sink seen for the first time starts at the newest event: it receives what happens from now on. */
  async ensure(sink: string): Promise<void> {
    await this.database.manager.query(
      `INSERT INTO audit_deliveries (sink, delivered_seq) SELECT $1, coalesce(max(seq), 0) FROM audit_events ON CONFLICT (sink) DO NOTHING`,
      [sink],
    );
  }

  /** Forgets sinks no longer configured, so their cursors stop holding back retention. */
  async forgetAllBut(sinks: string[]): Promise<void> {
    await this.database.manager.query(`DELETE FROM audit_deliveries WHERE NOT (sink = ANY($1::text[]))`, [sinks]);
  }

  /** Takes or renews the lease (`force`: ignore another holder, when no other instance can exist). */
  async claim(sink: string, owner: string, leaseMs: number, force: boolean): Promise<DeliveryState | null> {
    const result = await this.database.manager.query(
      `UPDATE audit_deliveries SET ${LEASE}
       WHERE sink = $1 AND ($4::boolean OR leased_by IS NULL OR leased_by = $2 OR lease_until < now())
       RETURNING delivered_seq::text AS seq, attempts,
         greatest(0, coalesce(extract(epoch FROM next_attempt_at - now()) * 1000, 0))::double precision AS wait_ms`,
      [sink, owner, leaseMs, force],
    );
    const row = updatedRows<{ seq: string; attempts: number; wait_ms: number | string }>(result)[0];
    return row ? { deliveredSeq: Number(row.seq), attempts: row.attempts, waitMs: Number(row.wait_ms) } : null;
  }

  /** Records delivery up to `seq`; false if the lease was lost (another instance took over). */
  async advance(sink: string, owner: string, leaseMs: number, seq: number): Promise<boolean> {
    const result = await this.database.manager.query(
      `UPDATE audit_deliveries SET ${LEASE}, delivered_seq = $4::bigint, attempts = 0, next_attempt_at = NULL, last_error = NULL, last_delivered_at = now()
       WHERE sink = $1 AND leased_by = $2 RETURNING sink`,
      [sink, owner, leaseMs, seq],
    );
    return updatedRows(result).length === 1;
  }

  /** Records a failed attempt and when to try again; false if the lease was lost. */
  async fail(sink: string, owner: string, leaseMs: number, attempts: number, retryInMs: number, error: string): Promise<boolean> {
    const result = await this.database.manager.query(
      `UPDATE audit_deliveries SET ${LEASE}, attempts = $4, next_attempt_at = now() + ($5::double precision * interval '1 millisecond'), last_error = $6
       WHERE sink = $1 AND leased_by = $2 RETURNING sink`,
      [sink, owner, leaseMs, attempts, retryInMs, error.slice(0, 500)],
    );
    return updatedRows(result).length === 1;
  }

  /**
   * Moves the cursor forward to `seq`, never back, unless another instance holds the lease (`force`: ignore that).
   * For a sink with nobody to deliver to: what it skips, nobody would have received.
   */
  async skipTo(sink: string, owner: string, seq: number, force: boolean): Promise<void> {
    await this.database.manager.query(
      `UPDATE audit_deliveries SET delivered_seq = greatest(delivered_seq, $3::bigint), updated_at = now()
       WHERE sink = $1 AND ($4::boolean OR leased_by IS NULL OR leased_by = $2 OR lease_until < now())`,
      [sink, owner, seq, force],
    );
  }

  async release(sink: string, owner: string): Promise<void> {
    await this.database.manager.query(`UPDATE audit_deliveries SET leased_by = NULL, lease_until = NULL WHERE sink = $1 AND leased_by = $2`, [sink, owner]);
  }

  /** The lowest seq every sink has delivered: events after it must be kept. Null when there are no sinks. */
  async lowestDelivered(): Promise<number | null> {
    const rows = (await this.database.manager.query(`SELECT min(delivered_seq)::text AS seq FROM audit_deliveries`)) as Array<{ seq: string | null }>;
    const seq = rows[0]?.seq;
    return seq === null || seq === undefined ? null : Number(seq);
  }

  async status(): Promise<DeliveryStatus[]> {
    const rows = (await this.database.manager.query(
      `SELECT d.sink, d.delivered_seq::text AS seq, d.attempts, d.last_error,
         (SELECT count(*) FROM audit_events e WHERE e.seq > d.delivered_seq)::int AS backlog,
         coalesce(extract(epoch FROM now() - (SELECT min(e.occurred_at) FROM audit_events e WHERE e.seq > d.delivered_seq)), 0)::double precision AS lag
       FROM audit_deliveries d ORDER BY d.sink`,
    )) as Array<{ sink: string; seq: string; attempts: number; last_error: string | null; backlog: number; lag: number | string }>;
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
