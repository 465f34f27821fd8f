import { Injectable } from '@nestjs/common';
import { Database } from '../database/database.module.js';
import type { Tx } from '../database/data-source.js';
import { params, runCounting, sql, statement } from '../database/sql.js';
import { APPEND_LOCK, appendedEvents, appendStatement, appendValues, COLUMNS, toEvent, type AuditEventRow, type NewAuditEvent } from './audit-event-insert.js';
import type { AuditEventFilter } from './audit-filter.js';
import { AuditNotifier } from './audit-notifier.js';
import type { AuditEventV1 } from './audit-schema.js';

export interface AuditFilter extends AuditEventFilter {
  since?: Date;
  until?: Date;
  /** Only events with a larger seq. */
  after?: number;
  /**
   * Only events with a seq this large or smaller: a horizon the caller has read (horizon()), so that pages of one
   * view end at one seq. Without it, find reads a horizon of its own.
   */
  upTo?: number;
  /** Newest first (the console's table) instead of oldest first. */
  newestFirst?: boolean;
  limit: number;
}

export const APPEND = appendStatement('audit_append');

const settle = params<{ lock: number }>();
/**
 * The horizon: the last seq drawn so far, read before the append lock is taken exclusively, which waits for every
 * writer that held it then (a writer takes it shared before drawing a seq), so each seq up to it is final. The
 * lock is the statement's own and ends with it; writers that come meanwhile queue behind it for that moment.
 */
export const HORIZON = statement(
  'audit_horizon',
  sql`SELECT (CASE WHEN s.is_called THEN s.last_value ELSE s.last_value - 1 END)::text AS seq, pg_advisory_xact_lock(${settle.lock}::bigint)::text AS settled
        FROM audit_events_seq_seq s`,
).returning<{ seq: string }>();

const retention = params<{ before: Date; upTo: number; limit: number }>();
export const DELETE_DELIVERED = statement(
  'audit_delete_delivered',
  sql`DELETE FROM audit_events WHERE seq IN (
         SELECT seq FROM audit_events WHERE occurred_at < ${retention.before}::timestamptz AND seq <= ${retention.upTo}::bigint ORDER BY seq LIMIT ${retention.limit}
       )`,
);

/** The outbox table: appends inside a feature's transaction, reads for the query API, the stream and delivery. */
@Injectable()
export class AuditEventRepository {
  /** The horizon being settled, and the one callers that came meanwhile wait for (see horizon). */
  private settling: Promise<number> | null = null;
  private next: Promise<number> | null = null;

  constructor(
    private readonly database: Database,
    private readonly notifier: AuditNotifier,
  ) {}

  /** Inserts events in order, holding the append lock (see HORIZON); returns them as written. */
  async append(tx: Tx, events: readonly NewAuditEvent[]): Promise<AuditEventV1[]> {
    if (events.length === 0) return [];
    const values = appendValues(events);
    return appendedEvents(values, await this.database.run(APPEND, values, tx));
  }

  /**
   * Events matching `filter`, oldest first unless it asks for the newest first, none beyond the horizon.
   * Concurrent writers hold the append lock shared, so seqs commit out of order: an event read past the horizon
   * could be followed by a smaller seq committing later, which a reader paging by seq would skip.
   * Built per call: a filter is any combination of conditions, so there is no one text to prepare or snapshot (one
   * text with `$n IS NULL OR …` for each condition would leave PostgreSQL's generic plan unable to pick the index a
   * given filter needs).
   */
  async find(filter: AuditFilter): Promise<AuditEventV1[]> {
    const where: string[] = [];
    const values: unknown[] = [];
    const param = (value: unknown) => {
      values.push(value);
      return `$${values.length}`;
    };
    if (filter.after !== undefined) where.push(`seq > ${param(filter.after)}::bigint`);
    where.push(`seq <= ${param(filter.upTo ?? (await this.horizon()))}::bigint`);
    if (filter.types?.length) {
      const exact = filter.types.filter((type) => !type.endsWith('.*'));
      const prefixes = filter.types.filter((type) => type.endsWith('.*')).map((type) => type.slice(0, -1));
      const any: string[] = [];
      if (exact.length) any.push(`type = ANY(${param(exact)}::text[])`);
      // Prefixes come from a validated pattern (letters, digits, _ and dots), so they hold no LIKE wildcards.
      for (const prefix of prefixes) any.push(`type LIKE ${param(`${prefix}%`)}`);
      where.push(`(${any.join(' OR ')})`);
    }
    if (filter.since) where.push(`occurred_at >= ${param(filter.since)}::timestamptz`);
    if (filter.until) where.push(`occurred_at < ${param(filter.until)}::timestamptz`);
    if (filter.clientId !== undefined) where.push(`client_id = ${param(filter.clientId)}`);
    if (filter.subject !== undefined) where.push(`subject = ${param(filter.subject)}`);
    if (filter.resource !== undefined) where.push(`resource = ${param(filter.resource)}`);
    if (filter.outcome !== undefined) where.push(`outcome = ${param(filter.outcome)}`);
    const order = filter.newestFirst ? 'seq DESC' : 'seq';
    const text = `SELECT ${COLUMNS} FROM audit_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY ${order} LIMIT ${param(filter.limit)}`;
    const rows = (await this.database.manager.query(text, values)) as AuditEventRow[];
    return rows.map(toEvent);
  }

  /**
   * The next events after `seq`, for delivery and streaming. Up to the horizon, a run of events this instance
   * committed itself is taken from memory as announced (AuditNotifier.committedAfter), which is the usual case with
   * one instance: reading them back cost about a third of an introspection's database time, for events in hand.
   */
  async after(seq: number, limit: number): Promise<AuditEventV1[]> {
    const upTo = await this.horizon();
    return this.notifier.committedAfter(seq, upTo, limit) ?? (await this.find({ after: seq, upTo, limit }));
  }

  /**
   * The newest seq up to which every event that will ever commit has committed (see HORIZON). Callers that come
   * while one is being settled share the next, which starts when it ends: each gets a horizon read after it asked,
   * and the writers queue behind one reader at a time, however many streams and sinks are reading.
   */
  horizon(): Promise<number> {
    if (this.settling === null) return this.settle();
    this.next ??= this.settling.then(
      () => this.settleNext(),
      () => this.settleNext(),
    );
    return this.next;
  }

  private settleNext(): Promise<number> {
    this.next = null;
    return this.settle();
  }

  private settle(): Promise<number> {
    const settling = this.database.run(HORIZON, { lock: APPEND_LOCK }).then((rows) => Number(rows[0]?.seq ?? 0));
    this.settling = settling;
    const settled = () => {
      if (this.settling === settling) this.settling = null;
    };
    settling.then(settled, settled);
    return settling;
  }

  /** Deletes up to `limit` events older than `before` and not after `upTo` (what every sink has delivered). */
  deleteOlderThan(before: Date, upTo: number, limit: number): Promise<number> {
    return runCounting(this.database.manager, DELETE_DELIVERED, { before, upTo, limit });
  }
}
