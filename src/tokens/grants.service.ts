import { Injectable } from '@nestjs/common';
import { Database } from '../database/database.module.js';
import type { Tx } from '../database/data-source.js';
import { AuditLog } from '../audit/audit-log.js';
import type { AuditActor } from '../audit/audit-schema.js';
import { GrantRepository } from './grant.repository.js';
import type { GrantEntity } from './grant.entity.js';
import type { RequestContext } from '../common/http.js';
import { ConsentRepository } from '../authorization/consent.repository.js';
import { ClientCredentialsGrantRepository } from './client-credentials-grant.repository.js';
import { RecordCache } from '../database/record-cache.js';

export interface GrantView {
  id: string;
  client_id: string;
  resource_id: string;
  scopes: string[];
  created_at: string;
  revoked_at: string | null;
  revoked_reason: string | null;
}

/**
 * Revoking a grant revokes its refresh-token family and, because access tokens carry `grant_id` and
 * introspection checks it, every access token minted from it.
 */
@Injectable()
export class GrantsService {
  constructor(
    private readonly database: Database,
    private readonly grants: GrantRepository,
    private readonly audit: AuditLog,
    private readonly consents: ConsentRepository,
    private readonly clientCredentials: ClientCredentialsGrantRepository,
    private readonly cache: RecordCache,
  ) {}

  /**
   * Inside the caller's transaction; records `grant.revoked` when this call revoked it. `actor`: who, when the reason
   * does not say (a console operator); absent, the reason decides (see AUDIT_CATALOGUE).
   */
  async revoke(tx: Tx, grant: Pick<GrantEntity, 'id' | 'clientId' | 'userId'>, reason: string, context?: RequestContext, actor?: AuditActor): Promise<boolean> {
    const revoked = await this.grants.revoke(tx, grant.id, reason);
    if (revoked) {
      // Its access tokens stop being known live on every instance once this commits (see AccessTokenStandings).
      await this.cache.invalidate(tx, 'grant', [grant.id]);
      await this.audit.record(tx, { type: 'grant.revoked', clientId: grant.clientId, subject: grant.userId, request: context, actor, data: { grant_id: grant.id, reason } });
    }
    return revoked;
  }

  listForUser(userId: string): Promise<GrantEntity[]> {
    return this.grants.listForUser(userId);
  }

  /**
   * An administrator revokes every live grant of a user (e.g. on account deactivation) or of a client, and forgets
   * the consents behind them, so that the next authorization asks again instead of going through silently.
   * `actor`: who did it, when not the admin API (a console operator); every event of the change names them.
   */
  async revokeAll(owner: { userId: string } | { clientId: string }, request?: RequestContext, actor?: AuditActor): Promise<{ revoked: number; consentsCleared: number }> {
    return this.database.transaction(async (tx) => {
      const result = await this.revokeAllIn(tx, owner, 'revoked_by_admin', request, actor);
      // Events record changes: a bulk revocation that found nothing to change records nothing.
      if (result.revoked === 0 && result.consentsCleared === 0) return result;
      await this.audit.record(tx, {
        type: 'admin.grants_revoked',
        clientId: 'clientId' in owner ? owner.clientId : null,
        subject: 'userId' in owner ? owner.userId : null,
        data: { revoked: result.revoked, consents_cleared: result.consentsCleared },
        request,
        actor,
      });
      return result;
    });
  }

  /**
   * revokeAll's change inside the caller's transaction, each grant with its `grant.revoked`, without the admin event.
   * A client's client credentials grants count too: each gets a new id, which ends the tokens issued under the old
   * one, while the administrator's permission stays (as a user may authorize again after their grants are revoked).
   */
  async revokeAllIn(
    tx: Tx,
    owner: { userId: string } | { clientId: string },
    reason: string,
    request?: RequestContext,
    actor?: AuditActor,
  ): Promise<{ revoked: number; consentsCleared: number }> {
    const live = await this.grants.listLive(tx, owner);
    let revoked = 0;
    for (const grant of live) if (await this.revoke(tx, grant, reason, request, actor)) revoked++;
    if ('clientId' in owner) {
      for (const permission of await this.clientCredentials.lockForClient(tx, owner.clientId)) {
        await this.clientCredentials.update(tx, permission.id, permission.scopes, true);
        await this.cache.invalidate(tx, 'grant', [permission.id]);
        await this.audit.record(tx, {
          type: 'grant.revoked',
          clientId: owner.clientId,
          subject: null,
          request,
          actor,
          data: { grant_id: permission.id, reason, grant_type: 'client_credentials' },
        });
        revoked++;
      }
    }
    const consentsCleared = await this.consents.forget(tx, owner);
    return { revoked, consentsCleared };
  }
}

export function toGrantView(grant: GrantEntity): GrantView {
  return {
    id: grant.id,
    client_id: grant.clientId,
    resource_id: grant.resourceId,
    scopes: grant.scopes,
    created_at: grant.createdAt.toISOString(),
    revoked_at: grant.revokedAt?.toISOString() ?? null,
    revoked_reason: grant.revokedReason,
  };
}
