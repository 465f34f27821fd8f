import { Injectable } from '@nestjs/common';
import { NO_ROW, type StatementChange, type Tx } from '../database/data-source.js';
import { Database } from '../database/database.module.js';
import { affected } from '../database/housekeeping.js';
import { AuthorizationCodeEntity } from './authorization-code.entity.js';
import { grantedCte, type GrantedConsent } from './consent.repository.js';
import { completedCte, type CompletionGuard } from './interaction.repository.js';

export type NewAuthorizationCode = Omit<AuthorizationCodeEntity, 'createdAt' | 'consumedAt' | 'grantId'>;

@Injectable()
export class AuthorizationCodeRepository {
  constructor(private readonly database: Database) {}

  async insert(tx: Tx, code: NewAuthorizationCode): Promise<void> {
    await tx.insert(AuthorizationCodeEntity, code);
  }

  /**
   * The end of an approved interaction as one change, for AuditLog.recordWith: completes the interaction (see
   * completedCte: once, while open, while `guard` holds), records `consent` when given, and inserts the code — all
   * or nothing. The gate `issued` yields a row only when all of it happened; it reads the other CTEs, so that their
   * row locks are taken before the audit ordering lock.
   */
  issuance(change: { interactionId: string; guard: CompletionGuard | null; consent: GrantedConsent | null; code: NewAuthorizationCode }): StatementChange {
    const params: unknown[] = [];
    const ctes = [completedCte(params, change.interactionId, change.guard)];
    if (change.consent) ctes.push(grantedCte(params, 'completed', change.consent));
    const { code } = change;
    params.push(code.codeHash, code.clientId, code.userId, code.resourceId, code.scopes, code.redirectUri, code.codeChallenge, code.expiresAt);
    const n = params.length;
    ctes.push(`issued AS (
         INSERT INTO authorization_codes (code_hash, client_id, user_id, resource_id, scopes, redirect_uri, code_challenge, expires_at)
         SELECT $${n - 7}, $${n - 6}, $${n - 5}::uuid, $${n - 4}::uuid, $${n - 3}::text[], $${n - 2}, $${n - 1}, $${n}::timestamptz
           FROM completed${change.consent ? ' WHERE EXISTS (SELECT 1 FROM granted)' : ''}
         RETURNING code_hash
       )`);
    return { name: 'code_issuance', sql: `WITH ${ctes.join(', ')}`, params, gate: 'issued', row: NO_ROW };
  }

  /**
   * Consumes a code atomically: of any number of concurrent exchanges, exactly one gets the row back.
   * An expired code is left untouched, so that presenting one changes nothing.
   */
  async consume(tx: Tx, codeHash: string): Promise<AuthorizationCodeEntity | null> {
    // Columns named, not `*`: a prepared statement's result shape must not change under it (a migration adding one).
    const rows = await this.database.hot<Record<string, unknown>>(
      'code_consume',
      `UPDATE authorization_codes SET consumed_at = now()
        WHERE code_hash = $1 AND consumed_at IS NULL AND expires_at > now()
        RETURNING code_hash, client_id, user_id, resource_id, scopes, redirect_uri, code_challenge, created_at, expires_at, consumed_at, grant_id`,
      [codeHash],
      tx,
    );
    const row = rows[0];
    return row ? fromRow(row) : null;
  }

  findByHash(tx: Tx, codeHash: string): Promise<AuthorizationCodeEntity | null> {
    return tx.findOne(AuthorizationCodeEntity, { where: { codeHash } });
  }

  /**
   * Codes are kept long after their 60 s lifetime so that a replay can still be recognised and its grant revoked;
   * once the refresh tokens they could have led to are long gone, they go. Deletes at most `limit` rows.
   */
  async deleteExpired(before: Date, limit: number): Promise<number> {
    const result = await this.database.manager.query(
      `DELETE FROM authorization_codes WHERE code_hash IN (SELECT code_hash FROM authorization_codes WHERE expires_at < $1 LIMIT $2)`,
      [before, limit],
    );
    return affected(result);
  }

}

function fromRow(row: Record<string, unknown>): AuthorizationCodeEntity {
  return Object.assign(new AuthorizationCodeEntity(), {
    codeHash: row.code_hash,
    clientId: row.client_id,
    userId: row.user_id,
    resourceId: row.resource_id,
    scopes: row.scopes,
    redirectUri: row.redirect_uri,
    codeChallenge: row.code_challenge,
    createdAt: new Date(row.created_at as string),
    expiresAt: new Date(row.expires_at as string),
    consumedAt: row.consumed_at ? new Date(row.consumed_at as string) : null,
    grantId: row.grant_id ?? null,
  });
}
