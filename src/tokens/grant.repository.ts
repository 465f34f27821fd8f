import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { randomUUID } from 'node:crypto';
import type { Tx } from '../database/data-source.js';
import { Database } from '../database/database.module.js';
import { params, runCounting, sql, statement } from '../database/sql.js';
import { auditedStatement, ChangeColumn, type AuditedChange, type EventColumns } from '../audit/audit-event-insert.js';
import { GrantEntity, RefreshTokenEntity } from './grant.entity.js';
import { clientUseCte } from '../registration/client.repository.js';
import { refreshTokenUsable } from '../database/refresh-token-usability.js';
import { pickIdentityClaims, type IdentityClaims } from '../resources/identity-claims.js';

@Injectable()
export class GrantRepository {
  constructor(private readonly dataSource: DataSource) {}

  async insert(tx: Tx, grant: Pick<GrantEntity, 'userId' | 'clientId' | 'resourceId' | 'scopes' | 'subject' | 'claims'>): Promise<string> {
    const id = randomUUID();
    await tx.insert(GrantEntity, { ...grant, id });
    return id;
  }

  findById(id: string, tx: Tx = this.dataSource.manager): Promise<GrantEntity | null> {
    return tx.findOne(GrantEntity, { where: { id } });
  }

  listForUser(userId: string, tx: Tx = this.dataSource.manager): Promise<GrantEntity[]> {
    return tx.find(GrantEntity, { where: { userId }, order: { createdAt: 'ASC' } });
  }

  /** Live grants of a user or a client, locked for the rest of the transaction. */
  listLive(tx: Tx, owner: { userId: string } | { clientId: string }): Promise<GrantEntity[]> {
    const query = tx.createQueryBuilder(GrantEntity, 'g').where('g.revoked_at IS NULL').setLock('pessimistic_write');
    if ('userId' in owner) query.andWhere('g.user_id = :userId', { userId: owner.userId });
    else query.andWhere('g.client_id = :clientId', { clientId: owner.clientId });
    return query.getMany();
  }

  /** Revokes a grant (its refresh-token family and the access tokens minted from it); false if already revoked. */
  async revoke(tx: Tx, id: string, reason: string): Promise<boolean> {
    const result = await tx
      .createQueryBuilder()
      .update(GrantEntity)
      .set({ revokedAt: () => 'now()', revokedReason: reason })
      .where('id = :id AND revoked_at IS NULL', { id })
      .execute();
    return (result.affected ?? 0) === 1;
  }
}

/** A presented refresh token and the grant it belongs to. */
export interface PresentedRefreshToken {
  grantId: string;
  /** Whether it can be rotated now (see refreshTokenUsable), whichever client presents it. */
  usable: boolean;
  /** Why not, when it cannot: */
  rotated: boolean;
  expired: boolean;
  revoked: boolean;
  /** Its user is disabled. */
  userDisabled: boolean;
  userId: string;
  clientId: string;
  resourceId: string;
  scopes: string[];
  /** The DPoP key its grant's refresh tokens are bound to (RFC 9449 §5); null when unbound. */
  dpopJkt: string | null;
  /** Its resource server takes only DPoP-bound tokens. */
  requireDpop: boolean;
}

/** What a rotation found: the grant, and what signing the access token needs of it and of its resource. */
export interface RotatedRefreshToken {
  grantId: string;
  userId: string;
  /** The grant's `sub` and identity claims, which every access token of the grant repeats. */
  subject: string;
  claims: IdentityClaims;
  /** The access token's: the scopes asked for, or the grant's. */
  scopes: string[];
  /** The resource's canonical URL (the token's `aud`) and access token lifetime, read with the rotation. */
  resource: string;
  accessTokenTtl: number;
}

/** What a rotation or a retry yields of its gate row, in the row's JSON form. */
function rotatedRefreshToken(json: Record<string, unknown>): RotatedRefreshToken {
  return {
    grantId: String(json.grant_id),
    userId: String(json.user_id),
    subject: String(json.subject),
    claims: pickIdentityClaims(json.claims),
    scopes: Array.isArray(json.scopes) ? json.scopes.map(String) : [],
    resource: String(json.resource),
    accessTokenTtl: Number(json.access_token_ttl),
  };
}

/** The event of a rotation or a retry takes the grant's user and id, the resource and the access token's scopes from it. */
const REFRESHED: EventColumns = {
  subject: new ChangeColumn('user_id'),
  resource: new ChangeColumn('resource'),
  data: { grant_id: new ChangeColumn('grant_id'), scopes: new ChangeColumn('scopes') },
};

const housekeeping = params<{ before: Date; limit: number }>();
export const DELETE_EXPIRED_REFRESH_TOKENS = statement(
  'refresh_delete_expired',
  sql`DELETE FROM refresh_tokens WHERE token_hash IN (SELECT token_hash FROM refresh_tokens WHERE expires_at < ${housekeeping.before} LIMIT ${housekeeping.limit})`,
);

interface PresentedRow {
  grant_id: string;
  usable: boolean;
  rotated: boolean;
  expired: boolean;
  user_id: string;
  client_id: string;
  resource_id: string;
  scopes: string[];
  revoked: boolean;
  user_disabled: boolean;
  dpop_jkt: string | null;
  require_dpop: boolean;
}

const presented = params<{ tokenHash: string }>();
export const INSPECT_REFRESH_TOKEN = statement(
  'refresh_inspect',
  sql`SELECT rt.grant_id, ${refreshTokenUsable('rt', 'g')} AS usable,
              rt.rotated_at IS NOT NULL AS rotated, rt.expires_at <= now() AS expired,
              g.user_id, g.client_id, g.resource_id, g.scopes, g.revoked_at IS NOT NULL AS revoked, u.disabled_at IS NOT NULL AS user_disabled,
              g.dpop_jkt, r.require_dpop
         FROM refresh_tokens rt JOIN grants g ON g.id = rt.grant_id JOIN users u ON u.id = g.user_id JOIN resource_servers r ON r.id = g.resource_id
        WHERE rt.token_hash = ${presented.tokenHash}`,
).returning<PresentedRow>();

/** What the refresh grant asks for: the presented token's hash, the client presenting it, and what it asks for. */
interface RefreshRequest {
  tokenHash: string;
  clientId: string;
  /** The canonical resource asked for; null for the grant's. */
  resource: string | null;
  /** The narrower scopes asked for; null for the grant's. */
  scopes: string[] | null;
  successorHash: string;
  /** The thumbprint of the request's DPoP key, if it proved one: a bound grant needs its key, a resource that requires DPoP any. */
  proofJkt: string | null;
}

const rotation = params<RefreshRequest & { recordUseOf: string | null; useResolutionSeconds: number }>();
export const REFRESH_ROTATION = auditedStatement(
  'refresh_rotation',
  sql`WITH rotated AS (
         UPDATE refresh_tokens rt SET rotated_at = now()
           FROM grants g JOIN resource_servers r ON r.id = g.resource_id
          WHERE rt.token_hash = ${rotation.tokenHash} AND g.id = rt.grant_id AND ${refreshTokenUsable('rt', 'g')}
            AND g.client_id = ${rotation.clientId}
            AND (${rotation.resource}::text IS NULL OR r.resource = ${rotation.resource}::text)
            AND (${rotation.scopes}::text[] IS NULL OR ${rotation.scopes}::text[] <@ g.scopes)
            AND (g.dpop_jkt IS NULL OR g.dpop_jkt = ${rotation.proofJkt}::text) AND (NOT r.require_dpop OR ${rotation.proofJkt}::text IS NOT NULL)
         RETURNING rt.grant_id, g.user_id, g.subject, g.claims, r.resource, r.access_token_ttl, r.refresh_token_ttl, coalesce(${rotation.scopes}::text[], g.scopes) AS scopes
       ), successor AS (
         INSERT INTO refresh_tokens (token_hash, grant_id, parent_hash, expires_at)
         SELECT ${rotation.successorHash}, grant_id, ${rotation.tokenHash}, now() + make_interval(secs => refresh_token_ttl) FROM rotated
         RETURNING 1
       ), ${clientUseCte(rotation.recordUseOf, 'rotated')}, done AS (
         -- The gate reads every other change to its end, so that all row locks (the client's too) are taken
         -- before the audit append lock: a CTE nobody reads runs after the main query, that is after the lock,
         -- and a row lock waited for while holding it would stall every writer queued behind a reader's horizon.
         SELECT rotated.* FROM rotated, (SELECT count(*) FROM successor) s, (SELECT count(*) FROM used) u
       )`,
  { gate: 'done', events: [REFRESHED], row: rotatedRefreshToken },
);

const retry = params<RefreshRequest & { graceSeconds: number; maxRetries: number }>();
export const REFRESH_RETRY = auditedStatement(
  'refresh_retry',
  sql`WITH retried AS (
         UPDATE refresh_tokens rt SET retries = rt.retries + 1
           FROM grants g JOIN resource_servers r ON r.id = g.resource_id
          WHERE rt.token_hash = ${retry.tokenHash} AND rt.rotated_at > now() - make_interval(secs => ${retry.graceSeconds}::double precision)
            AND rt.retries < ${retry.maxRetries}::integer AND rt.expires_at > now()
            AND g.id = rt.grant_id AND g.revoked_at IS NULL AND g.client_id = ${retry.clientId}
            AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = g.user_id AND u.disabled_at IS NOT NULL)
            AND (${retry.resource}::text IS NULL OR r.resource = ${retry.resource}::text)
            AND (${retry.scopes}::text[] IS NULL OR ${retry.scopes}::text[] <@ g.scopes)
            AND (g.dpop_jkt IS NULL OR g.dpop_jkt = ${retry.proofJkt}::text) AND (NOT r.require_dpop OR ${retry.proofJkt}::text IS NOT NULL)
            AND NOT EXISTS (SELECT 1 FROM refresh_tokens c WHERE c.grant_id = rt.grant_id AND c.parent_hash = rt.token_hash AND c.rotated_at IS NOT NULL)
         RETURNING rt.grant_id, g.user_id, g.subject, g.claims, r.resource, r.access_token_ttl, r.refresh_token_ttl, coalesce(${retry.scopes}::text[], g.scopes) AS scopes, rt.retries
       ), successor AS (
         INSERT INTO refresh_tokens (token_hash, grant_id, parent_hash, expires_at)
         SELECT ${retry.successorHash}, grant_id, ${retry.tokenHash}, now() + make_interval(secs => refresh_token_ttl) FROM retried
         RETURNING 1
       ), done AS (
         -- As in the rotation: the token's row lock is taken before the audit append lock.
         SELECT retried.* FROM retried, (SELECT count(*) FROM successor) s
       )`,
  // The retry's event also says how many retries the token has had now.
  { gate: 'done', events: [{ ...REFRESHED, data: { ...REFRESHED.data, retries: new ChangeColumn('retries') } }], row: rotatedRefreshToken },
);

@Injectable()
export class RefreshTokenRepository {
  constructor(private readonly database: Database) {}

  /** Expired refresh tokens can neither be used nor meaningfully reused; deletes at most `limit` of them. */
  deleteExpired(before: Date, limit: number): Promise<number> {
    return runCounting(this.database.manager, DELETE_EXPIRED_REFRESH_TOKENS, { before, limit });
  }

  async insert(tx: Tx, token: Pick<RefreshTokenEntity, 'tokenHash' | 'grantId' | 'parentHash' | 'expiresAt'>): Promise<void> {
    await tx.insert(RefreshTokenEntity, token);
  }

  /** A refresh token with what its grant says about it, in one read; null for an unknown token. */
  async inspect(tokenHash: string): Promise<PresentedRefreshToken | null> {
    const [row] = await this.database.run(INSPECT_REFRESH_TOKEN, { tokenHash });
    if (!row) return null;
    return {
      grantId: row.grant_id,
      usable: row.usable,
      rotated: row.rotated,
      expired: row.expired,
      revoked: row.revoked,
      userDisabled: row.user_disabled,
      userId: row.user_id,
      clientId: row.client_id,
      resourceId: row.resource_id,
      scopes: row.scopes,
      dpopJkt: row.dpop_jkt,
      requireDpop: row.require_dpop,
    };
  }

  /**
   * The whole refresh grant's change, for AuditLog.recordWith: rotates the presented token only if it can be
   * used (refreshTokenUsable) for this request — its grant the client's, the resource (when asked for, canonical)
   * the grant's, the scopes (when asked for) within the grant's, the DPoP key the grant's (when bound) or any (when
   * the resource requires DPoP) — stores its successor (living the resource's
   * refresh token lifetime), and records the client's use when `recordUseOf` is set. The CTE `rotated` yields a row
   * only if it rotated; of concurrent rotations of one token exactly one does (the row lock serialises them, and the
   * losers find `rotated_at` set when they get it). When it yields none, `inspect` tells why. Its event gets the
   * subject, resource, scopes and `grant_id` from the rotated row.
   */
  rotation(change: RefreshRequest & { recordUseOf: string | null; useResolutionSeconds: number }): AuditedChange<typeof change, RotatedRefreshToken> {
    return { audited: REFRESH_ROTATION, values: change };
  }

  /**
   * A retry of a rotation, for AuditLog.recordWith: the presented token was rotated less than `graceSeconds` ago,
   * has had fewer than `maxRetries` retries, and none of its successors has been used yet (a client that used one
   * got the answer it might be retrying for); its grant is unrevoked and the client's, and the request fits the
   * grant as for `rotation`. Then it counts the retry and stores another successor of the presented token (a sibling
   * of the first, which stays valid). The count is raised under the token's row lock, so concurrent retries take
   * turns and the bound holds; `rotated_at` is left alone, so retries never stretch the window. When it yields
   * nothing, the presentation is reuse. Its event gets what the rotation's does, and `retries`.
   */
  retry(change: RefreshRequest & { graceSeconds: number; maxRetries: number }): AuditedChange<typeof change, RotatedRefreshToken> {
    return { audited: REFRESH_RETRY, values: change };
  }
}
