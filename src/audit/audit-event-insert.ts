import { SqlFragment, SqlParam, Statement, params, sql, sqlJoin, sqlText } from '../database/sql.js';
import type { AuditActorKind, AuditEventData, AuditOutcome } from './audit-event.entity.js';
import { AUDIT_SCHEMA_VERSION, type AuditActor, type AuditEventType, type AuditEventV1 } from './audit-schema.js';

/**
 * The outbox's INSERT as a fragment, for the audit repository's own appends and for a feature's statement that
 * writes its change and its events at once (auditedStatement). Event values are named parameters `eventN_…`; a value
 * the change computes is a column of the change's gate row, named in the statement's text.
 */

/**
 * Held shared by every event-writing transaction from just before it draws its seqs until it ends, and taken
 * exclusively, for a moment, by a reader settling its horizon (AuditEventRepository). Distinct from the migration lock.
 */
export const APPEND_LOCK = 7_405_614_213;

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

/** An `audit_events` row as a raw query returns it. */
export interface AuditEventRow {
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

export const COLUMNS = 'seq, id, schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data';

const INSERT_COLUMNS = 'schema, type, occurred_at, actor_kind, actor_id, client_id, subject, resource, scopes, ip, user_agent, request_id, outcome, data';

/** The columns an event gives (all but `schema`), with their types, as APPEND reads them from its JSON. */
const RECORD_COLUMNS: ReadonlyArray<readonly [string, string]> = [
  ['type', 'text'],
  ['occurred_at', 'timestamptz'],
  ['actor_kind', 'text'],
  ['actor_id', 'text'],
  ['client_id', 'text'],
  ['subject', 'text'],
  ['resource', 'text'],
  ['scopes', 'text[]'],
  ['ip', 'text'],
  ['user_agent', 'text'],
  ['request_id', 'text'],
  ['outcome', 'text'],
  ['data', 'jsonb'],
];

/** A column of a change's gate row, whose value an event takes: what the change found, unknown before it ran. */
export class ChangeColumn {
  constructor(readonly column: string) {
    // Written into the statement's text: a plain identifier only.
    if (!/^[a-z_][a-z0-9_]*$/.test(column)) throw new Error(`not a column name: ${column}`);
  }
}

/**
 * Which values of an event its change computes. The actor, when derived (not given), follows: a user event's actor
 * is its subject, a resource's its resource, wherever those come from.
 */
export interface EventColumns {
  subject?: ChangeColumn;
  resource?: ChangeColumn;
  scopes?: ChangeColumn;
  /** Keys of `data` (plain identifiers) and the columns that hold their values. */
  data?: Record<string, ChangeColumn>;
}

/** The values of the events' parameters, as eventValues binds them. */
export type AuditEventValues = { readonly [name: `event${number}_${string}`]: unknown } & { audit_lock: number; audit_schema: number };

const lock = new SqlParam<'audit_lock', number>('audit_lock');
const schema = new SqlParam<'audit_schema', number>('audit_schema');
const eventParam = (n: number, field: string) => new SqlParam<`event${number}_${string}`, unknown>(`event${n}_${field}`);

/** What an actor's id is taken from when the change computes it (see EventColumns). */
export type ActorSource = 'subject' | 'resource';

/** As for any event, the scopes are the event's, else data.scopes: a column when data.scopes is one. */
function scopesColumn(columns: EventColumns): ChangeColumn | undefined {
  return columns.scopes ?? columns.data?.scopes;
}

/** The VALUES tuple of event `n`, its computed values read from `change`. */
function eventTuple(n: number, columns: EventColumns): SqlFragment<AuditEventValues> {
  const param = (field: string) => eventParam(n, field);
  const value = (field: string, column: ChangeColumn | undefined, cast: string) => (column ? sqlText(`change.${column.column}${cast}`) : sql`${param(field)}${sqlText(cast)}`);
  const sources: Array<[ActorSource, ChangeColumn | undefined]> = [
    ['subject', columns.subject],
    ['resource', columns.resource],
  ];
  const actorBranches = sources.filter(([, column]) => column).map(([source, column]) => ` WHEN '${source}' THEN change.${column!.column}::text`);
  const actorId = actorBranches.length ? sql`CASE ${param('actor_source')}::text${sqlText(actorBranches.join(''))} ELSE ${param('actor_id')}::text END` : sql`${param('actor_id')}::text`;
  const computedData = Object.entries(columns.data ?? {}).map(([key, column]) => {
    if (!/^[a-z_][a-z0-9_]*$/.test(key)) throw new Error(`not a data key: ${key}`);
    return `'${key}', change.${column.column}`;
  });
  const data = computedData.length ? sql`(${param('data')}::jsonb || jsonb_build_object(${sqlText(computedData.join(', '))}))` : sql`${param('data')}::jsonb`;
  const values = [
    sql`${schema}::smallint`,
    value('type', undefined, '::text'),
    value('time', undefined, '::timestamptz'),
    value('actor_kind', undefined, '::text'),
    actorId,
    value('client_id', undefined, '::text'),
    value('subject', columns.subject, '::text'),
    value('resource', columns.resource, '::text'),
    value('scopes', scopesColumn(columns), '::text[]'),
    value('ip', undefined, '::text'),
    value('user_agent', undefined, '::text'),
    value('request_id', undefined, '::text'),
    value('outcome', undefined, '::text'),
    data,
  ] as Array<SqlFragment<AuditEventValues>>;
  return sql`(${sqlJoin(values, ', ')})`;
}

/**
 * `INSERT … SELECT` of events joined with the CTE `appending` (so the lock is held before any seq is drawn) and with
 * the change's `gate` row as `change`.
 */
function insertEvents(shapes: readonly EventColumns[], gate: string): SqlFragment<AuditEventValues> {
  const tuples = sqlJoin(
    shapes.map((columns, i) => eventTuple(i + 1, columns)),
    ',\n         ',
  );
  return sql`INSERT INTO audit_events (${sqlText(INSERT_COLUMNS)})
       SELECT v.* FROM appending, ${sqlText(gate)} AS change, LATERAL (VALUES ${tuples}) AS v(${sqlText(INSERT_COLUMNS)})
       RETURNING ${sqlText(COLUMNS)}`;
}

/** The events of an append, as one JSON array whose members name their columns (see appendStatement). */
export interface AppendValues {
  audit_lock: number;
  audit_schema: number;
  events: string;
}

const appended = params<Pick<AppendValues, 'events'>>();

/** What an append returns of each event: the values the database drew. The rest is what was inserted. */
export interface AppendedRow {
  seq: string;
  id: string;
}

/**
 * Events appended on their own, under the append lock (AuditEventRepository.append): one text for any number of
 * events, so it is prepared once, and a batch of hundreds binds three values instead of thirteen per event.
 * `WITH ORDINALITY` keeps the order they were given in, which is the order their seq is drawn in. It returns only
 * what the database drew: sending every column back (jsonb, arrays, timestamps as text) took a third of the
 * statement's time on the embedded database.
 */
export function appendStatement(name: string): Statement<AppendValues, AppendedRow> {
  return new Statement(
    name,
    sql`WITH appending AS (SELECT pg_advisory_xact_lock_shared(${lock}))
       INSERT INTO audit_events (${sqlText(INSERT_COLUMNS)})
       SELECT ${schema}::smallint, ${sqlText(RECORD_COLUMNS.map(([name]) => `e.${name}`).join(', '))}
         FROM appending, ROWS FROM (jsonb_to_recordset(${appended.events}::jsonb) AS (${sqlText(RECORD_COLUMNS.map(([name, type]) => `${name} ${type}`).join(', '))}))
              WITH ORDINALITY AS e(${sqlText(RECORD_COLUMNS.map(([name]) => name).join(', '))}, n)
        ORDER BY e.n
       RETURNING seq, id`,
  ).returning<AppendedRow>();
}

/**
 * The events of an append as written: the JSON the database was given, read back into objects of their own, each
 * with the seq and id drawn for it. Seqs are drawn in the order the events were given, so the rows in ascending
 * seq order pair with the events in order.
 */
export function appendedEvents(values: AppendValues, rows: readonly AppendedRow[]): AuditEventV1[] {
  const records = JSON.parse(values.events) as AppendRecord[];
  if (rows.length !== records.length) throw new Error(`${records.length} events appended, ${rows.length} rows returned`);
  const drawn = [...rows].sort((a, b) => Number(a.seq) - Number(b.seq));
  // The records are this call's own objects: completed in place into rows (a spread copy took most of this function's time).
  return records.map((record, i) => toEvent(Object.assign(record, drawn[i]!, { schema: AUDIT_SCHEMA_VERSION, data: inJsonbKeyOrder(record.data) })));
}

/**
 * `data` with its keys in the order jsonb keeps them (shorter first, then by their UTF-8 bytes), so that an event
 * announced from memory serialises to the same text as the event read back from the table. (Its values are flat.)
 */
function inJsonbKeyOrder(data: AuditEventData): AuditEventData {
  const keys = Object.keys(data).sort(jsonbKeyOrder);
  return Object.fromEntries(keys.map((key) => [key, data[key]])) as AuditEventData;
}

const ASCII = /^[\x00-\x7f]*$/;

function jsonbKeyOrder(a: string, b: string): number {
  // ASCII keys (every key Gatehouse writes) order by their characters as by their bytes; others by their UTF-8 bytes.
  if (ASCII.test(a) && ASCII.test(b)) return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
  const [x, y] = [Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')];
  return x.length - y.length || Buffer.compare(x, y);
}

/** An event as appendStatement reads it from its JSON: a row without what the database draws, the time as ISO text. */
type AppendRecord = Omit<AuditEventRow, 'seq' | 'id' | 'schema' | 'occurred_at' | 'data'> & { occurred_at: string; data: AuditEventData };

/** The values of appendStatement's statement for `events`. */
export function appendValues(events: readonly NewAuditEvent[]): AppendValues {
  const records = events.map((event): AppendRecord => ({
    type: event.type,
    occurred_at: event.time.toISOString(),
    actor_kind: event.actor.kind,
    actor_id: event.actor.id,
    client_id: event.clientId,
    subject: event.subject,
    resource: event.resource,
    scopes: event.scopes,
    ip: event.ip,
    user_agent: event.userAgent,
    request_id: event.requestId,
    outcome: event.outcome,
    data: event.data,
  }));
  return { audit_lock: APPEND_LOCK, audit_schema: AUDIT_SCHEMA_VERSION, events: JSON.stringify(records) };
}

/** A row of an audited statement: an event as written, and the change's gate row as JSON. */
export type AuditedRow = AuditEventRow & { change: Record<string, unknown> | string };

/** A feature's statement that writes its change and the change's events at once (see auditedStatement). */
export interface AuditedStatement<Values, Row> {
  statement: Statement<Values & AuditEventValues, AuditedRow>;
  /** What it is made of: the change's CTEs and the one of them that says it happened. */
  change: SqlFragment<Values>;
  gate: string;
  /** Which values of each event the change computes, in the order of the events written. */
  events: readonly EventColumns[];
  /** What the caller needs of the gate's row, from its JSON form. */
  row(json: Record<string, unknown>): Row;
}

/**
 * A change and its events as one statement, so one implicit transaction and one round trip. `change` is CTEs
 * (`WITH a AS (…), b AS (…)`); the change happened when the CTE `gate` yields a row (one at most). The events are
 * written only then, under the append lock, taken after the change's own row locks (so the gate must read every
 * CTE that takes a row lock: a reader waiting for the lock makes later writers queue behind it, so a writer must not
 * wait for a row lock while it holds the append lock); their computed values are read from the gate's row. Each row of the result is an
 * event as written, with the gate's row as JSON in `change`.
 */
export function auditedStatement<Values, Row>(
  name: string,
  change: SqlFragment<Values>,
  audit: { gate: string; events: readonly EventColumns[]; row(json: Record<string, unknown>): Row },
): AuditedStatement<Values, Row> {
  if (audit.events.length === 0) throw new Error(`${name}: an audited statement needs an event: its rows are what says the change happened`);
  const gate = sqlText(audit.gate);
  const text: SqlFragment<Values & AuditEventValues> = sql`${change}, appending AS (SELECT pg_advisory_xact_lock_shared(${lock}) FROM ${gate}),
       appended AS (${insertEvents(audit.events, audit.gate)})
       SELECT appended.*, to_jsonb(change) AS change FROM appended, ${gate} AS change` as SqlFragment<Values & AuditEventValues>;
  return { statement: new Statement(name, text).returning<AuditedRow>(), change, gate: audit.gate, events: audit.events, row: audit.row };
}

/** A feature's audited statement with the values of its change's parameters (AuditLog.recordWith). */
export interface AuditedChange<Values, Row> {
  audited: AuditedStatement<Values, Row>;
  values: Values;
}

/**
 * The parameters' values for `events`, written in the shapes `shapes`: a value the change computes is not bound. Throws when the events do not match the shapes, a bug of the caller.
 */
export function eventValues(events: readonly NewAuditEvent[], shapes: readonly EventColumns[], actorSources: ReadonlyArray<ActorSource | null> = []): AuditEventValues {
  if (events.length !== shapes.length) throw new Error(`${events.length} events for a statement that writes ${shapes.length}`);
  const values: Record<string, unknown> = { audit_lock: APPEND_LOCK, audit_schema: AUDIT_SCHEMA_VERSION };
  events.forEach((event, i) => {
    const n = i + 1;
    const columns = shapes[i]!;
    const known: AuditEventData = {};
    for (const [key, value] of Object.entries(event.data)) if (!columns.data?.[key]) known[key] = value;
    const set = (field: string, value: unknown) => (values[`event${n}_${field}`] = value);
    set('type', event.type);
    set('time', event.time);
    set('actor_kind', event.actor.kind);
    set('actor_id', event.actor.id);
    if (columns.subject || columns.resource) set('actor_source', actorSources[i] ?? null);
    set('client_id', event.clientId);
    if (!columns.subject) set('subject', event.subject);
    if (!columns.resource) set('resource', event.resource);
    if (!scopesColumn(columns)) set('scopes', event.scopes);
    set('ip', event.ip);
    set('user_agent', event.userAgent);
    set('request_id', event.requestId);
    set('outcome', event.outcome);
    set('data', JSON.stringify(known));
  });
  return values as AuditEventValues;
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
