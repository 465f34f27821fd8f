import { Injectable, Logger } from '@nestjs/common';
import type { Tx } from '../database/data-source.js';
import { Database } from '../database/database.module.js';
import { currentRequestContext } from '../common/request-context.middleware.js';
import type { AuditActorKind, AuditEventData, AuditOutcome } from './audit-event.entity.js';
import { AuditEventRepository, type NewAuditEvent } from './audit-event.repository.js';
import { AuditNotifier } from './audit-notifier.js';
import { defaultActor, defaultOutcome, looksSecret, scrubSecrets, type AuditEventV1 } from './audit-schema.js';

export type AuditEventType =
  | 'client.registered'
  | 'client.updated'
  | 'client.deleted'
  | 'client.expired'
  | 'client.metadata_fetched'
  | 'client.metadata_rejected'
  | 'login.succeeded'
  | 'login.failed'
  | 'consent.granted'
  | 'consent.denied'
  | 'authorization_code.issued'
  | 'authorization_code.replayed'
  | 'token.issued'
  | 'token.refreshed'
  | 'token.revoked'
  | 'token.introspected'
  | 'refresh_token.reuse_detected'
  | 'grant.revoked'
  | 'admin.resource_created'
  | 'admin.resource_updated'
  | 'admin.resource_deleted'
  | 'admin.resource_secret_rotated'
  | 'admin.client_created'
  | 'admin.client_deleted'
  | 'admin.grants_revoked'
  | 'admin.initial_access_token_created'
  | 'admin.initial_access_token_revoked'
  | 'signing_key.rotated'
  | 'rate_limit.exceeded';

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
  /** Absent: the current request's id (request context). */
  requestId?: string | null;
  data?: AuditEventData;
}

interface Pending {
  rows: NewAuditEvent[];
  written: AuditEventV1[];
  flushed: boolean;
}

/**
 * The outbox writer. Features record events inside the transaction that makes the change, so an event exists
 * exactly when its change committed. Delivery to sinks reads this table; features never call sinks.
 *
 * Events are held until the end of the transaction and inserted as its last statements, under a transaction-scoped
 * advisory lock: event-writing transactions therefore commit in `seq` order, so a reader that has seen seq n can
 * never later see a smaller seq commit (without that, concurrent PostgreSQL transactions would commit out of seq
 * order and a seq cursor could skip events). Taking the lock last, after every row lock the transaction needs,
 * also means it cannot take part in a deadlock.
 */
@Injectable()
export class AuditLog {
  private readonly logger = new Logger('AuditLog');
  private readonly pending = new WeakMap<Tx, Pending>();

  constructor(
    private readonly database: Database,
    private readonly events: AuditEventRepository,
    private readonly notifier: AuditNotifier,
  ) {}

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
      created.written = await this.events.append(tx, created.rows);
    });
    if (!managed) {
      // A transaction Database did not open (a test, a script): write at once, still under the ordering lock.
      await this.events.append(tx, [row]);
      return;
    }
    this.pending.set(tx, created);
    this.database.afterCommit(tx, () => this.notifier.committed(created.written));
  }

  private prepare(event: AuditEvent): NewAuditEvent {
    const context = currentRequestContext();
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
      requestId: event.requestId ?? context?.requestId ?? null,
      outcome: event.outcome ?? defaultOutcome(event.type),
      data: scrubbed.data,
    };
  }
}
