import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Tx } from '../database/data-source.js';
import { Database } from '../database/database.module.js';
import { params, runCounting, runStatement, sql, statement } from '../database/sql.js';
import { refreshTokenUsable } from '../database/refresh-token-usability.js';
import { pickIdentityClaims, type IdentityClaims } from '../resources/identity-claims.js';

export interface AccessTokenStanding {
  /**
   * The grant exists and is not revoked, and its user is not disabled; or (a client credentials token) the
   * administrator's permission it was issued under still exists with that id.
   */
  grantLive: boolean;
  /** This token's jti was revoked on its own. */
  jtiRevoked: boolean;
  /** The live grant's user; null for a client credentials token or when the grant is not live. */
  userId: string | null;
}

export interface RefreshTokenRecord {
  grantId: string;
  userId: string;
  /** The grant's `sub` and identity claims. */
  subject: string;
  claims: IdentityClaims;
  clientId: string;
  resourceId: string;
  resource: string;
  scopes: string[];
  createdAt: Date;
  expiresAt: Date;
  /** Whether it can still be rotated (see refreshTokenUsable); when not, the flags below say why. */
  usable: boolean;
  rotated: boolean;
  grantRevoked: boolean;
}

const standing = params<{ grantId: string; jti: string }>();
export const ACCESS_TOKEN_STANDING = statement(
  'token_standing',
  sql`SELECT live.user_id,
              (live.user_id IS NOT NULL OR EXISTS (SELECT 1 FROM client_credentials_grants c WHERE c.id = ${standing.grantId})) AS grant_live,
              EXISTS (SELECT 1 FROM revoked_access_tokens WHERE jti = ${standing.jti}) AS jti_revoked
         FROM (SELECT (SELECT g.user_id FROM grants g JOIN users u ON u.id = g.user_id
                        WHERE g.id = ${standing.grantId} AND g.revoked_at IS NULL AND u.disabled_at IS NULL) AS user_id) AS live`,
).returning<{ user_id: string | null; grant_live: boolean; jti_revoked: boolean }>();

interface RefreshTokenRow {
  grant_id: string;
  user_id: string;
  subject: string;
  claims: Record<string, unknown>;
  client_id: string;
  resource_id: string;
  resource: string;
  scopes: string[];
  created_at: Date | string;
  expires_at: Date | string;
  usable: boolean;
  rotated: boolean;
  grant_revoked: boolean;
}

const refreshToken = params<{ tokenHash: string }>();
export const REFRESH_TOKEN_RECORD = statement(
  'refresh_token_record',
  sql`SELECT t.grant_id, g.user_id, g.subject, g.claims, g.client_id, g.resource_id, r.resource, g.scopes, t.created_at, t.expires_at,
              ${refreshTokenUsable('t', 'g')} AS usable, t.rotated_at IS NOT NULL AS rotated, g.revoked_at IS NOT NULL AS grant_revoked
         FROM refresh_tokens t JOIN grants g ON g.id = t.grant_id JOIN resource_servers r ON r.id = g.resource_id
        WHERE t.token_hash = ${refreshToken.tokenHash}`,
).returning<RefreshTokenRow>();

const revocation = params<{ jti: string; clientId: string; expiresAt: Date }>();
export const REVOKE_JTI = statement(
  'revoke_jti',
  sql`INSERT INTO revoked_access_tokens (jti, client_id, expires_at) VALUES (${revocation.jti}, ${revocation.clientId}, ${revocation.expiresAt}) ON CONFLICT (jti) DO NOTHING RETURNING jti`,
).returning<{ jti: string }>();

const housekeeping = params<{ before: Date; limit: number }>();
export const DELETE_EXPIRED_REVOCATIONS = statement(
  'revoked_access_tokens_delete_expired',
  sql`DELETE FROM revoked_access_tokens WHERE jti IN (SELECT jti FROM revoked_access_tokens WHERE expires_at < ${housekeeping.before} LIMIT ${housekeeping.limit})`,
);

/** The revocation state that introspection and revocation consult: revoked jtis and grant standing. */
@Injectable()
export class TokenStatusRepository {
  constructor(
    private readonly dataSource: DataSource,
    private readonly database: Database,
  ) {}

  /**
   * One round trip: is the grant live (and whose is it), and was this jti revoked? An introspection asks unless
   * AccessTokenStandings already knows the token live.
   */
  async accessTokenStanding(grantId: string, jti: string, tx?: Tx): Promise<AccessTokenStanding> {
    const [row] = await this.database.run(ACCESS_TOKEN_STANDING, { grantId, jti }, tx);
    return { grantLive: row?.grant_live === true, jtiRevoked: row?.jti_revoked === true, userId: row?.user_id ?? null };
  }

  /** A refresh token with its grant and resource, by hash; null if unknown. */
  async refreshToken(tokenHash: string, tx: Tx = this.dataSource.manager): Promise<RefreshTokenRecord | null> {
    const [row] = await runStatement(tx, REFRESH_TOKEN_RECORD, { tokenHash });
    if (!row) return null;
    return {
      grantId: row.grant_id,
      userId: row.user_id,
      subject: row.subject,
      claims: pickIdentityClaims(row.claims),
      clientId: row.client_id,
      resourceId: row.resource_id,
      resource: row.resource,
      scopes: row.scopes,
      createdAt: new Date(row.created_at),
      expiresAt: new Date(row.expires_at),
      usable: row.usable === true,
      rotated: row.rotated === true,
      grantRevoked: row.grant_revoked === true,
    };
  }

  /** Records a revoked access token until it would have expired; false if it was already recorded. */
  async revokeJti(tx: Tx, jti: string, clientId: string, expiresAt: Date): Promise<boolean> {
    return (await runStatement(tx, REVOKE_JTI, { jti, clientId, expiresAt })).length > 0;
  }

  /** Entries for tokens that have expired anyway; deletes at most `limit`. */
  deleteExpiredRevocations(before: Date, limit: number): Promise<number> {
    return runCounting(this.dataSource.manager, DELETE_EXPIRED_REVOCATIONS, { before, limit });
  }
}
