import { Injectable } from '@nestjs/common';
import { Database } from '../database/database.module.js';
import type { Tx } from '../database/data-source.js';
import { affected } from '../database/housekeeping.js';
import type { AuditActorKind, AuditEventData, AuditOutcome } from './audit-event.entity.js';
import { AUDIT_SCHEMA_VERSION, type AuditActor, type AuditEventType, type AuditEventV1 } from './audit-schema.js';

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
 * In an event written with its change (appendWith): a value the change computes, a column of the row its gate
 * CTE yields — what the change found, such as the subject of a grant it rotated, unknown before the statement.
 */
export class ChangeColumn {
  constructor(readonly column: string) {
    // Written into the statement's text: a plain identifier only.
    if (!/^[a-z_][a-z0-9_]*$/.test(column)) throw new Error(`not a column name: ${column}`);
  }
}

/** A value known before the statement, or one the change computes. */
export type Computed<T> = T | ChangeColumn;

/** An event of appendWith: a NewAuditEvent some of whose values may come from the change. */
export interface NewChangeEvent extends Omit<NewAuditEvent, 'actor' | 'subject' | 'resource' | 'scopes' | 'data'> {
  actor: { kind: AuditActorKind; id: Computed<string | null> };
  subject: Computed<string | null>;
  resource: Computed<string | null>;
  scopes: Computed<string[] | null>;
  data: Record<string, Computed<AuditEventData[string]>>;
}

/** A change written with its events in one statement (appendWith). */
export interface AuditedChange<Row> {
  /** Names the statement (see Database.hot). */
  name: string;
  /** CTEs, `WITH a AS (…), b AS (…)`, using `$1…$n` of `params`. */
  sql: string;
  params: unknown[];
  /** The CTE that yields the changed row — one row at most — when the change happened, and none otherwise. */
  gate: string;
  /** What the caller needs of the gate's row, from its JSON form. */
  row(json: Record<string, unknown>): Row;
}

/**
 * `INSERT … SELECT` of `events` joined with the CTE `ordering` (so the lock is held before any seq is drawn) and,
 * when the events take values from a change, with its `gate` row as `change`; their values appended to `params`.
 */
function insertEvents(events: readonly NewChangeEvent[], params: unknown[], gate: string | null): string {
  const param = (value: unknown): string => {
    params.push(value);
    return `$${params.length}`;
  };
  const value = (item: unknown, cast: string): string => {
    if (!(item instanceof ChangeColumn)) return `${param(item)}${cast}`;
    if (gate === null) throw new Error(`an event value from a change (${item.column}) without a change`);
    return `change.${item.column}${cast}`;
  };
  const data = (entries: NewChangeEvent['data']): string => {
    const known: AuditEventData = {};
    const computed: string[] = [];
    for (const [key, item] of Object.entries(entries)) {
      if (item instanceof ChangeColumn) computed.push(`${param(key)}::text, ${value(item, '')}`);
      else known[key] = item;
    }
    const json = `${param(JSON.stringify(known))}::jsonb`;
    return computed.length ? `(${json} || jsonb_build_object(${computed.join(', ')}))` : json;
  };
  const tuples = events.map((event) => {
    const values = [
      value(AUDIT_SCHEMA_VERSION, '::smallint'),
      value(event.type, '::text'),
      value(event.time, '::timestamptz'),
      value(event.actor.kind, '::text'),
      value(event.actor.id, '::text'),
      value(event.clientId, '::text'),
      value(event.subject, '::text'),
      value(event.resource, '::text'),
      value(event.scopes, '::text[]'),
      value(event.ip, '::text'),
      value(event.userAgent, '::text'),
      value(event.requestId, '::text'),
      value(event.outcome, '::text'),
      data(event.data),
    ];
    return `(${values.join(', ')})`;
  });
  const from = gate === null ? `ordering, (VALUES ${tuples.join(', ')})` : `ordering, ${gate} AS change, LATERAL (VALUES ${tuples.join(', ')})`;
  return `INSERT INTO audit_events (${INSERT_COLUMNS})
       SELECT v.* FROM ${from} AS v(${INSERT_COLUMNS})
       RETURNING ${COLUMNS}`;
}

/**
 * Transactions write one to a few events, so their inserts come in a few shapes that are worth preparing; the
 * write-behind's batches come in every size up to 200, and each size would stay prepared on every connection.
 */
const PREPARED_EVENTS_MAX = 4;

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
    const sql = `WITH ordering AS (SELECT pg_advisory_xact_lock($1))
       ${insertEvents(events, params, null)}`;
    const rows =
      events.length <= PREPARED_EVENTS_MAX ? await this.database.hot<AuditEventRow>('audit_append', sql, params, tx) : ((await tx.query(sql, params)) as AuditEventRow[]);
    return rows.map(toEvent).sort((a, b) => a.seq - b.seq);
  }

  /**
   * A change and its events as one statement, so one implicit transaction and one round trip: the events (at least
   * one) are written only if the change's gate yields a row (the change happened), and then under the ordering
   * lock, taken after the change's own row locks; their ChangeColumn values are read from that row. Returns the
   * events as written and the gate's row: none and null when the change did not happen.
   */
  async appendWith<Row>(change: AuditedChange<Row>, events: readonly NewChangeEvent[]): Promise<{ events: AuditEventV1[]; row: Row | null }> {
    if (events.length === 0) throw new Error('appendWith needs an event: its rows are what says the change happened');
    const params = [...change.params, APPEND_LOCK];
    const lock = `$${params.length}`;
    const rows = await this.database.hot<AuditEventRow & { change: Record<string, unknown> | string }>(
      change.name,
      `${change.sql}, ordering AS (SELECT pg_advisory_xact_lock(${lock}) FROM ${change.gate}),
       appended AS (${insertEvents(events, params, change.gate)})
       SELECT appended.*, to_jsonb(change) AS change FROM appended, ${change.gate} AS change`,
      params,
    );
    const first = rows[0];
    const row = first ? change.row(typeof first.change === 'string' ? (JSON.parse(first.change) as Record<string, unknown>) : first.change) : null;
    return { events: rows.map(toEvent).sort((a, b) => a.seq - b.seq), row };
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
