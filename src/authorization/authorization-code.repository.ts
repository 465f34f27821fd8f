import { Injectable } from '@nestjs/common';
import { NO_ROW, type StatementChange, type Tx } from '../database/data-source.js';
import { ChangeColumn, type AuditedChange } from '../audit/audit-event.repository.js';
import { Database } from '../database/database.module.js';
import { affected } from '../database/housekeeping.js';
import { AuthorizationCodeEntity } from './authorization-code.entity.js';
import { grantedCte, type GrantedConsent } from './consent.repository.js';
import { completedCte, type CompletionGuard } from './interaction.repository.js';
import { clientUseCte } from '../registration/client.repository.js';

export type NewAuthorizationCode = Omit<AuthorizationCodeEntity, 'createdAt' | 'consumedAt' | 'grantId'>;

/** What a code exchange found: the code's user and scopes, and what signing needs of its resource. */
export interface ExchangedCode {
  userId: string;
  scopes: string[];
  /** The resource's canonical URL (the token's `aud`) and access token lifetime, read with the exchange. */
  resource: string;
  accessTokenTtl: number;
  /** When the exchange recorded the client's use; null when it recorded none. */
  usedAt: Date | null;
}

/** The columns of the exchange's `exchanged` row that its events name (for AuditLog.recordWith). */
export const EXCHANGED = {
  userId: new ChangeColumn('user_id'),
  resource: new ChangeColumn('resource'),
  scopes: new ChangeColumn('scopes'),
};

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
   * A whole code exchange as one change, for AuditLog.recordWith: consumes the code only if this request may have
   * it — unconsumed, unexpired, issued to `clientId`, for this PKCE challenge (S256 of the verifier, computed by
   * the caller), for `redirectUri` and `resource` when they are given — creates grant `grantId` from it, links the
   * code to the grant (so that a replay can revoke it), stores the first refresh token (living the resource's refresh
   * token lifetime) when there is one, and records the client's use when `recordUseOf` is set. The gate `exchanged`
   * yields a row only when all of it happened; of concurrent exchanges of one code exactly one does (the row lock
   * serialises them; the others find `consumed_at` set). When it yields none, `findByHash` tells why.
   *
   * The challenge is compared in SQL, not in constant time: it is public (the authorization request carried it in
   * the front channel), and what is compared is a SHA-256 of the verifier, whose timing says nothing of a verifier.
   */
  exchange(change: {
    codeHash: string;
    clientId: string;
    codeChallenge: string;
    redirectUri: string | null;
    resource: string | null;
    grantId: string;
    refreshTokenHash: string | null;
    recordUseOf: string | null;
    useResolutionSeconds: number;
  }): AuditedChange<ExchangedCode> {
    return {
      name: 'code_exchange',
      sql: `WITH consumed AS (
         UPDATE authorization_codes ac SET consumed_at = now(), grant_id = $6
           FROM resource_servers r
          WHERE ac.code_hash = $1 AND ac.consumed_at IS NULL AND ac.expires_at > now()
            AND ac.client_id = $2 AND ac.code_challenge = $3
            AND ($4::text IS NULL OR ac.redirect_uri = $4::text)
            AND r.id = ac.resource_id AND ($5::text IS NULL OR r.resource = $5::text)
         RETURNING ac.user_id, ac.resource_id, ac.scopes, r.resource, r.access_token_ttl, r.refresh_token_ttl
       ), created AS (
         -- The code references the grant: foreign keys are checked at the end of the statement.
         INSERT INTO grants (id, user_id, client_id, resource_id, scopes) SELECT $6, user_id, $2, resource_id, scopes FROM consumed
         RETURNING id
       ), refresh AS (
         INSERT INTO refresh_tokens (token_hash, grant_id, expires_at)
         SELECT $7, $6, now() + make_interval(secs => refresh_token_ttl) FROM consumed WHERE $7::text IS NOT NULL
         RETURNING 1
       ), ${clientUseCte('$8', '$9', 'consumed')}, exchanged AS (
         -- Reads every other change (see RefreshTokenRepository.rotation): all row locks before the audit lock.
         SELECT consumed.*, (SELECT last_used_at FROM used) AS used_at
           FROM consumed, (SELECT count(*) FROM created) g, (SELECT count(*) FROM refresh) rt
       )`,
      params: [
        change.codeHash,
        change.clientId,
        change.codeChallenge,
        change.redirectUri,
        change.resource,
        change.grantId,
        change.refreshTokenHash,
        change.recordUseOf,
        change.useResolutionSeconds,
      ],
      gate: 'exchanged',
      row: (json) => ({
        userId: String(json.user_id),
        scopes: Array.isArray(json.scopes) ? json.scopes.map(String) : [],
        resource: String(json.resource),
        accessTokenTtl: Number(json.access_token_ttl),
        usedAt: typeof json.used_at === 'string' ? new Date(json.used_at) : null,
      }),
    };
  }

  /** A code as stored, whatever its state; null for an unknown code. */
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
