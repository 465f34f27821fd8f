import { Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import type { Tx } from '../database/data-source.js';
import { Database } from '../database/database.module.js';
import type { RequestContext } from '../common/http.js';
import { MetricsService } from '../metrics/metrics.service.js';
import type { AuditActorKind, AuditEventData, AuditOutcome } from './audit-event.entity.js';
import { AuditEventRepository } from './audit-event.repository.js';
import { eventValues, toEvent, type ActorSource, type AuditedChange, type EventColumns, type NewAuditEvent } from './audit-event-insert.js';
import { AuditNotifier } from './audit-notifier.js';
import { defaultActor, defaultOutcome, looksSecret, scrubSecrets, type AuditEventType, type AuditEventV1 } from './audit-schema.js';
import { WriteBehindQueue, type WriteBehindLimits } from './audit-write-behind.js';

/** What an event may carry: ids, names, scopes, a jti — never a token, code or secret. */
export interface AuditEvent {
  type: AuditEventType;
  clientId?: string | null;
  subject?: string | null;
  resource?: string | null;
  /** The scopes the event is about; `data.scopes` is used when this is absent. */
  scopes?: string[] | null;
  /** Who did it. Absent: derived from the type (see AUDIT_CATALOGUE). */
  actor?: { kind: AuditActorKind; id: string | null };
  /** Absent: derived from the type. */
  outcome?: AuditOutcome;
  /** The request it happened in (contextOf(req)): its id, client address and user agent. Absent outside any request. */
  request?: RequestContext;
  data?: AuditEventData;
}

/** How observations (recordObservation) are written behind. */
export const OBSERVATION_WRITES: WriteBehindLimits = {
  // One multi-row INSERT per window instead of a transaction per introspection, yet in the table (and on its way to
  // the sinks) sooner than anyone could look for it.
  maxDelayMs: 25,
  batchSize: 200,
  // About 10 MB of waiting events: as far as a database outage may grow memory. Beyond it, events are dropped and counted.
  maxPending: 10_000,
};

interface Pending {
  rows: NewAuditEvent[];
  written: AuditEventV1[];
  flushed: boolean;
}

/**
 * The outbox writer. Features record events inside the transaction that makes the change, so an event exists
 * exactly when its change committed. Delivery to sinks reads this table; features never call sinks.
 *
 * Events are held until the end of the transaction and inserted as its last statements, holding the append lock
 * shared until the transaction ends. Concurrent transactions therefore commit their seqs out of order, and readers
 * read only up to the horizon (AuditEventRepository.horizon), below which every seq is final, so that a seq cursor
 * skips nothing. Writers never wait for one another there, so commits (and their WAL flushes) overlap. Taking the
 * lock last, after every row lock the transaction needs, keeps it short.
 *
 * The exception: an event that describes no change (recordObservation) has no transaction to join and is written
 * behind, in batches, by a queue flushed at shutdown.
 */
@Injectable()
export class AuditLog implements BeforeApplicationShutdown {
  private readonly logger = new Logger('AuditLog');
  private readonly pending = new WeakMap<Tx, Pending>();
  private readonly observations: WriteBehindQueue<NewAuditEvent>;
  /** Set while observations are being refused (queue full), so that an outage logs one warning, not thousands. */
  private refusing = false;

  constructor(
    private readonly database: Database,
    private readonly events: AuditEventRepository,
    private readonly notifier: AuditNotifier,
    private readonly metrics: MetricsService,
  ) {
    this.observations = new WriteBehindQueue((rows) => this.writeObservations(rows), OBSERVATION_WRITES, {
      failed: (error, { retrying, dropped }) => {
        this.metrics.auditWriteFailures.inc();
        if (dropped) this.metrics.auditEventsDropped.inc({ reason: 'write_failed' }, dropped);
        // The error message only: the rows are not logged (the logger's redaction still applies to what is).
        this.logger.warn({ msg: 'writing audit observations failed', retrying, dropped, error: error instanceof Error ? error.message : String(error) });
      },
      refused: () => {
        this.metrics.auditEventsDropped.inc({ reason: 'queue_full' });
        if (this.refusing) return;
        this.refusing = true;
        this.logger.warn({ msg: 'audit observations dropped: too many waiting to be written', limit: OBSERVATION_WRITES.maxPending });
      },
    });
  }

  async record(tx: Tx, event: AuditEvent): Promise<void> {
    const row = this.prepare(event);
    const pending = this.pending.get(tx);
    if (pending && !pending.flushed) {
      pending.rows.push(row);
      return;
    }
    if (pending) {
      // Recorded by another before-commit hook after the flush: still in this transaction, just written at once.
      pending.written.push(...(await this.events.append(tx, [row])));
      return;
    }
    const created: Pending = { rows: [row], written: [], flushed: false };
    const managed = this.database.beforeCommit(tx, async () => {
      created.flushed = true;
      // Covers any later append of this transaction too: their seqs are larger.
      this.database.afterEnd(tx, this.notifier.beginAppend());
      created.written = await this.events.append(tx, created.rows);
    });
    if (!managed) {
      // A transaction Database did not open (a test, a script): write at once.
      await this.events.append(tx, [row]);
      return;
    }
    this.pending.set(tx, created);
    this.database.afterCommit(tx, () => this.notifier.committed(created.written));
  }

  /**
   * Records an event that describes no change (`token.introspected`): it has no transaction to join, so it is
   * queued and written behind, within OBSERVATION_WRITES.maxDelayMs, many to one INSERT. Time and request context
   * are taken now. Unlike record(), the event may be lost — on a crash before the write, when the write fails twice,
   * or when too many are waiting (each counted in gatehouse_audit_events_dropped_total) — and its seq reflects when
   * it was written, not when it happened (`time` does). Never use it for an event that describes a change.
   */
  recordObservation(event: AuditEvent): void {
    this.observations.push(this.prepare(event));
  }

  /** Writes every observation still queued (and waits for the one under way). */
  flushObservations(): Promise<void> {
    return this.observations.flush();
  }

  /**
   * Nest calls this after the HTTP server has been drained (graceful shutdown) and before the database closes:
   * the last observations are written. Any recorded later still are written at once, not queued.
   */
  async beforeApplicationShutdown(): Promise<void> {
    await this.observations.close();
  }

  /** One statement, its own transaction. */
  private async writeObservations(rows: NewAuditEvent[]): Promise<void> {
    const written = await this.notifier.whileAppending(() => this.events.append(this.database.manager, rows));
    this.refusing = false;
    this.notifier.committed(written);
  }

  /**
   * A change that is a single statement with its events (see auditedStatement): both commit together or not at
   * all, in one round trip. The events leave out what the change computes (the statement's EventColumns say what,
   * and take it from the changed row). Returns the events written and the changed row: none and null when the change
   * did not happen.
   */
  async recordWith<Values, Row>(change: AuditedChange<Values, Row>, events: AuditEvent[]): Promise<{ events: AuditEventV1[]; row: Row | null }> {
    const { statement, events: shapes, row } = change.audited;
    const prepared = events.map((event, i) => this.prepareChange(event, shapes[i] ?? {}));
    const values = eventValues(
      prepared.map(({ event }) => event),
      shapes,
      prepared.map(({ actorSource }) => actorSource),
    );
    const rows = await this.notifier.whileAppending(() => this.database.run(statement, { ...change.values, ...values }));
    const first = rows[0];
    const written = {
      events: rows.map(toEvent).sort((a, b) => a.seq - b.seq),
      row: first ? row(typeof first.change === 'string' ? (JSON.parse(first.change) as Record<string, unknown>) : first.change) : null,
    };
    if (written.events.length > 0) this.notifier.committed(written.events);
    return written;
  }

  /**
   * An event of a change, prepared (and scrubbed) as any event is, but for the values the change computes (scopes
   * too when data.scopes is computed: they follow it, as for any event); when its actor is derived and is the
   * subject or resource the change computes, the statement takes it from there too.
   */
  private prepareChange(event: AuditEvent, columns: EventColumns): { event: NewAuditEvent; actorSource: ActorSource | null } {
    const computed = [columns.subject && event.subject !== undefined && 'subject', columns.resource && event.resource !== undefined && 'resource', (columns.scopes ?? columns.data?.scopes) && event.scopes !== undefined && 'scopes']
      .concat(Object.keys(columns.data ?? {}).filter((key) => event.data?.[key] !== undefined))
      .filter(Boolean);
    if (computed.length) throw new Error(`${event.type}: ${computed.join(', ')} come from the change, not from the event`);
    const prepared = this.prepare(event);
    let actorSource: ActorSource | null = null;
    if (event.actor === undefined && prepared.actor.kind === 'user' && columns.subject) actorSource = 'subject';
    if (event.actor === undefined && prepared.actor.kind === 'resource' && columns.resource) actorSource = 'resource';
    return { event: prepared, actorSource };
  }

  private prepare(event: AuditEvent): NewAuditEvent {
    const context = event.request;
    const data = event.data ?? {};
    const dataScopes = Array.isArray(data.scopes) ? data.scopes : null;
    const scrubbed = scrubSecrets(data);
    if (scrubbed.redacted) this.logger.warn({ msg: 'secret-looking value removed from an audit event', type: event.type, fields: scrubbed.redacted });
    return {
      type: event.type,
      time: new Date(),
      actor: event.actor ?? defaultActor(event.type, { clientId: event.clientId ?? null, subject: event.subject ?? null, resource: event.resource ?? null, data }, context !== undefined),
      clientId: event.clientId ?? null,
      subject: event.subject ?? null,
      resource: event.resource ?? null,
      scopes: event.scopes ?? dataScopes,
      ip: context?.ip ?? null,
      userAgent: context?.userAgent && looksSecret(context.userAgent) ? '[redacted]' : (context?.userAgent ?? null),
      requestId: context?.requestId ?? null,
      outcome: event.outcome ?? defaultOutcome(event.type),
      data: scrubbed.data,
    };
  }
}
