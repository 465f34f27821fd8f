import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Tx } from '../database/data-source.js';
import { Database } from '../database/database.module.js';
import { affected } from '../database/housekeeping.js';

export interface AccessTokenStanding {
  /** The grant exists and is not revoked. */
  grantLive: boolean;
  /** This token's jti was revoked on its own. */
  jtiRevoked: boolean;
}

export interface RefreshTokenRecord {
  grantId: string;
  userId: string;
  clientId: string;
  resourceId: string;
  resource: string;
  scopes: string[];
  createdAt: Date;
  expiresAt: Date;
  rotated: boolean;
  grantRevoked: boolean;
}

/** The revocation state that introspection and revocation consult: revoked jtis and grant standing. */
@Injectable()
export class TokenStatusRepository {
  constructor(
    private readonly dataSource: DataSource,
    private readonly database: Database,
  ) {}

  /** One round trip: is the grant live, and was this jti revoked? Every introspection of a live access token asks. */
  async accessTokenStanding(grantId: string, jti: string, tx?: Tx): Promise<AccessTokenStanding> {
    const rows = await this.database.hot<{ grant_live: boolean; jti_revoked: boolean }>(
      'token_standing',
      `SELECT EXISTS (SELECT 1 FROM grants WHERE id = $1 AND revoked_at IS NULL) AS grant_live,
              EXISTS (SELECT 1 FROM revoked_access_tokens WHERE jti = $2) AS jti_revoked`,
      [grantId, jti],
      tx,
    );
    return { grantLive: rows[0]?.grant_live === true, jtiRevoked: rows[0]?.jti_revoked === true };
  }

  /** A refresh token with its grant and resource, by hash; null if unknown. */
  async refreshToken(tokenHash: string, tx: Tx = this.dataSource.manager): Promise<RefreshTokenRecord | null> {
    const rows = (await tx.query(
      `SELECT t.grant_id, g.user_id, g.client_id, g.resource_id, r.resource, g.scopes, t.created_at, t.expires_at,
              t.rotated_at IS NOT NULL AS rotated, g.revoked_at IS NOT NULL AS grant_revoked
         FROM refresh_tokens t JOIN grants g ON g.id = t.grant_id JOIN resource_servers r ON r.id = g.resource_id
        WHERE t.token_hash = $1`,
      [tokenHash],
    )) as Array<Record<string, unknown>>;
    const row = rows[0];
    if (!row) return null;
    return {
      grantId: row.grant_id as string,
      userId: row.user_id as string,
      clientId: row.client_id as string,
      resourceId: row.resource_id as string,
      resource: row.resource as string,
      scopes: row.scopes as string[],
      createdAt: new Date(row.created_at as string),
      expiresAt: new Date(row.expires_at as string),
      rotated: row.rotated === true,
      grantRevoked: row.grant_revoked === true,
    };
  }

  /** Records a revoked access token until it would have expired; false if it was already recorded. */
  async revokeJti(tx: Tx, jti: string, clientId: string, expiresAt: Date): Promise<boolean> {
    const result = await tx.query(
      `INSERT INTO revoked_access_tokens (jti, client_id, expires_at) VALUES ($1, $2, $3) ON CONFLICT (jti) DO NOTHING RETURNING jti`,
      [jti, clientId, expiresAt],
    );
    return Array.isArray(result) && result.length > 0;
  }

  /** Entries for tokens that have expired anyway; deletes at most `limit`. */
  async deleteExpiredRevocations(before: Date, limit: number): Promise<number> {
    const result = await this.dataSource.manager.query(
      `DELETE FROM revoked_access_tokens WHERE jti IN (SELECT jti FROM revoked_access_tokens WHERE expires_at < $1 LIMIT $2)`,
      [before, limit],
    );
    return affected(result);
  }
}
