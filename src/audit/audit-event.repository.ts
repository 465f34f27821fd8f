import { Injectable } from '@nestjs/common';
import { Database } from '../database/database.module.js';
import type { Tx } from '../database/data-source.js';
import { affected } from '../database/housekeeping.js';
import type { AuditActorKind, AuditEventData, AuditOutcome } from './audit-event.entity.js';
import type { AuditEventType } from './audit-log.js';
import { AUDIT_SCHEMA_VERSION, type AuditActor, type AuditEventV1 } from './audit-schema.js';

/** Serialises event-writing transactions (see AuditLog); distinct from the migration lock. */
const APPEND_LOCK = 7_405_614_213;

export interface NewAuditEvent {
  type: AuditEventType;
  time: Date;
  actor: AuditActor;
  clientId: string | null;
  subject: string | null;
  resource: string | null;
  scopes: string[] | null;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  outcome: AuditOutcome;
  data: AuditEventData;
}

export interface AuditFilter {
  /** Exact types, or prefixes written `admin.*`. */
  types?: string[];
  since?: Date;
  until?: Date;
  clientId?: string;
  subject?: string;
  /** Only events with a larger seq. */
  after?: number;
  limit: number;
}

interface AuditEventRow {
  seq: string;
  id: string;
  schema: number;
  type: AuditEventType;
  occurred_at: Date | string;
  actor_kind: AuditActorKind;
  actor_id: string | null;
  client_id: string | null;
  subject: string | null;
  resource: string | null;
  scopes: string[] | null;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  outcome: AuditOutcome;
  data: AuditEventData | string;
}

/**
 * `INSERT … SELECT` of `events` joined with the CTE `ordering` (so the lock is held before any seq is drawn),
 * their values appended to `params`.
 */
function insertEvents(events: readonly NewAuditEvent[], params: unknown[]): string {
  const casts = ['::smallint', '::text', '::timestamptz', '::text', '::text', '::text', '::text', '::text', '::text[]', '::text', '::text', '::text', '::text', '::jsonb'];
  const tuples = events.map((event) => {
    const values = [
      AUDIT_SCHEMA_VERSION,
      event.type,
      event.time,
      event.actor.kind,
      event.actor.id,
      event.clientId,
      event.subject,
      event.resource,
      event.scopes,
      event.ip,
      event.userAgent,
      event.requestId,
      event.outcome,
      JSON.stringify(event.data),
    ];
    const base = params.length;
    params.push(...values);
    return `(${values.map((_, i) => `$${base + i + 1}${casts[i]}`).join(', ')})`;
  });
  return `INSERT INTO audit_events (${INSERT_COLUMNS})
       SELECT v.* FROM ordering, (VALUES ${tuples.join(', ')}) AS v(${INSERT_COLUMNS})
       RETURNING ${COLUMNS}`;
}

const INSERT_COLUMNS = 'schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data';

const COLUMNS = 'seq, id, schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data';

/** The outbox table: appends inside a feature's transaction, reads for the query API, the stream and delivery. */
@Injectable()
export class AuditEventRepository {
  constructor(private readonly database: Database) {}

  /** Inserts events in order, under the lock that makes seq order commit order; returns them as written. */
  async append(tx: Tx, events: readonly NewAuditEvent[]): Promise<AuditEventV1[]> {
    if (events.length === 0) return [];
    const params: unknown[] = [APPEND_LOCK];
    const rows = (await tx.query(
      `WITH ordering AS (SELECT pg_advisory_xact_lock($1))
       ${insertEvents(events, params)}`,
      params,
    )) as AuditEventRow[];
    return rows.map(toEvent).sort((a, b) => a.seq - b.seq);
  }

  /**
   * A change and its events as one statement, so one implicit transaction and one round trip: `change.sql` is a
   * list of CTEs (`WITH a AS (…), b AS (…)`) using `$1…$n` of `change.params`; the events are written only if
   * the CTE named `change.gate` yields a row (the change happened), and then under the ordering lock, taken after
   * the change's own row locks. Returns the events as written: empty when the gate yielded nothing.
   */
  async appendWith(change: { sql: string; params: unknown[]; gate: string }, events: readonly NewAuditEvent[]): Promise<AuditEventV1[]> {
    const params = [...change.params, APPEND_LOCK];
    const rows = (await this.database.manager.query(
      `${change.sql}, ordering AS (SELECT pg_advisory_xact_lock($${params.length}) FROM ${change.gate})
       ${insertEvents(events, params)}`,
      params,
    )) as AuditEventRow[];
    return rows.map(toEvent).sort((a, b) => a.seq - b.seq);
  }

  /** Events matching `filter`, oldest first. */
  async find(filter: AuditFilter): Promise<AuditEventV1[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const param = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    if (filter.after !== undefined) where.push(`seq > ${param(filter.after)}::bigint`);
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
    const sql = `SELECT ${COLUMNS} FROM audit_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq LIMIT ${param(filter.limit)}`;
    const rows = (await this.database.manager.query(sql, params)) as AuditEventRow[];
    return rows.map(toEvent);
  }

  /** The next events after `seq`, for delivery and streaming. */
  after(seq: number, limit: number): Promise<AuditEventV1[]> {
    return this.find({ after: seq, limit });
  }

  async maxSeq(): Promise<number> {
    const rows = (await this.database.manager.query('SELECT coalesce(max(seq), 0)::text AS seq FROM audit_events')) as Array<{ seq: string }>;
    return Number(rows[0]?.seq ?? 0);
  }

  /** Deletes up to `limit` events older than `before` and not after `upTo` (what every sink has delivered). */
  async deleteOlderThan(before: Date, upTo: number, limit: number): Promise<number> {
    const result = await this.database.manager.query(
      `DELETE FROM audit_events WHERE seq IN (
         SELECT seq FROM audit_events WHERE occurred_at < $1::timestamptz AND seq <= $2::bigint ORDER BY seq LIMIT $3
       )`,
      [before, upTo, limit],
    );
    return affected(result);
  }
}

export function toEvent(row: AuditEventRow): AuditEventV1 {
  return {
    schema: 1,
    seq: Number(row.seq),
    id: row.id,
    type: row.type,
    time: new Date(row.occurred_at).toISOString(),
    actor: { kind: row.actor_kind, id: row.actor_id },
    subject: row.subject,
    client_id: row.client_id,
    resource: row.resource,
    scopes: row.scopes,
    ip: row.ip,
    user_agent: row.user_agent,
    request_id: row.request_id,
    outcome: row.outcome,
    data: typeof row.data === 'string' ? (JSON.parse(row.data) as AuditEventData) : row.data,
  };
}
