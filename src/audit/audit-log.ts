import { Injectable } from '@nestjs/common';
import type { Tx } from '../database/data-source.js';
import { AuditEventEntity, type AuditEventData } from './audit-event.entity.js';

export type AuditEventType =
  | 'client.registered'
  | 'client.updated'
  | 'client.deleted'
  | 'login.succeeded'
  | 'login.failed'
  | 'consent.granted'
  | 'consent.denied'
  | 'authorization_code.issued'
  | 'authorization_code.replayed'
  | 'token.issued'
  | 'token.refreshed'
  | 'token.revoked'
  | 'refresh_token.reuse_detected'
  | 'grant.revoked'
  | 'admin.resource_created'
  | 'admin.resource_updated'
  | 'admin.resource_deleted'
  | 'admin.resource_secret_rotated'
  | 'admin.client_created'
  | 'admin.client_deleted'
  | 'admin.grants_revoked'
  | 'signing_key.rotated';

/** What an event may carry: ids, names, scopes, a jti — never a token, code or secret. */
export interface AuditEvent {
  type: AuditEventType;
  clientId?: string | null;
  subject?: string | null;
  resource?: string | null;
  requestId?: string | null;
  data?: AuditEventData;
}

/**
 * The outbox writer. Features record events inside the transaction that makes the change, so an event exists
 * exactly when its change committed. Delivery to sinks reads this table; features never call sinks.
 */
@Injectable()
export class AuditLog {
  async record(tx: Tx, event: AuditEvent): Promise<void> {
    await tx.insert(AuditEventEntity, {
      type: event.type,
      clientId: event.clientId ?? null,
      subject: event.subject ?? null,
      resource: event.resource ?? null,
      requestId: event.requestId ?? null,
      data: event.data ?? {},
    });
  }
}
