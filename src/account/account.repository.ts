import { Injectable } from '@nestjs/common';
import type { Tx } from '../database/data-source.js';
import { Database } from '../database/database.module.js';
import { refreshTokenUsable } from '../database/refresh-token-usability.js';
import { params, runStatement, sql, statement } from '../database/sql.js';
import type { ClientKind } from '../registration/client.entity.js';
import type { ClientMetadata } from '../registration/client-metadata.js';

/** An unrevoked grant of a user as LIST_USER_GRANTS reads it, with what pages need of the client and resource server. */
export interface UserGrantSummary {
  grantId: string;
  clientId: string;
  clientKind: ClientKind;
  clientMetadata: ClientMetadata;
  resourceName: string;
  resourceUrl: string;
  scopes: string[];
  /** When the application last obtained tokens with it: its newest refresh token, or the grant itself. */
  lastUsedAt: Date;
}

/** A grant as the account page shows it. */
export interface ConnectedApplication extends UserGrantSummary {
  scopeDescriptions: Record<string, string>;
  /** When the grant was made: the first token issued after the person allowed it. */
  allowedAt: Date;
}

/** One of the ways the person signs in. */
export interface AccountIdentity {
  provider: string;
  login: string | null;
  email: string | null;
  name: string | null;
}

export interface AccountOwner {
  displayName: string | null;
  identities: AccountIdentity[];
}

/** A grant of the signed-in user, locked for the revocation. */
export interface OwnGrant {
  grantId: string;
  clientId: string;
  userId: string;
  resourceId: string;
  resourceUrl: string;
  revoked: boolean;
}

export interface UserGrantRow {
  grant_id: string;
  client_id: string;
  client_kind: ClientKind;
  client_metadata: ClientMetadata;
  resource_name: string;
  resource_url: string;
  scopes: string[];
  scope_descriptions: Record<string, string>;
  created_at: Date | string;
  last_used_at: Date | string;
  refreshable: boolean;
}

const owner = params<{ userId: string }>();
const grantsOf = params<{ userId: string; liveOnly: boolean }>();

/**
 * A user's unrevoked grants, most recently used first. Every refresh stores a new refresh token, so the newest one's
 * `created_at` is when the application last obtained tokens. With `liveOnly`, only the live ones, as the account page
 * shows them: holding a refresh token that can still be rotated, or so recent that the last access token issued from
 * them may not have expired yet. Without, every one, as the console lists what "revoke all" and disabling revoke.
 */
export const LIST_USER_GRANTS = statement(
  'account_user_grants',
  sql`SELECT g.id AS grant_id, g.client_id, c.kind AS client_kind, c.metadata AS client_metadata,
              r.name AS resource_name, r.resource AS resource_url, g.scopes, r.scope_descriptions, g.created_at, used.last_used_at, used.refreshable
         FROM grants g
         JOIN clients c ON c.id = g.client_id
         JOIN resource_servers r ON r.id = g.resource_id
         CROSS JOIN LATERAL (
           SELECT greatest(max(rt.created_at), g.created_at) AS last_used_at, coalesce(bool_or(${refreshTokenUsable('rt', 'g')}), false) AS refreshable
             FROM refresh_tokens rt WHERE rt.grant_id = g.id
         ) used
        WHERE g.user_id = ${grantsOf.userId}::uuid AND g.revoked_at IS NULL
          AND (NOT ${grantsOf.liveOnly}::boolean OR used.refreshable OR used.last_used_at + make_interval(secs => r.access_token_ttl) > now())
        ORDER BY used.last_used_at DESC, g.id`,
).returning<UserGrantRow>();

export const ACCOUNT_OWNER = statement(
  'account_owner',
  sql`SELECT u.display_name,
              coalesce((SELECT json_agg(json_build_object('provider', i.provider, 'login', i.login, 'email', i.email, 'name', i.name) ORDER BY i.created_at, i.provider)
                          FROM user_identities i WHERE i.user_id = u.id), '[]'::json) AS identities
         FROM users u WHERE u.id = ${owner.userId}::uuid AND u.disabled_at IS NULL`,
).returning<{ display_name: string | null; identities: AccountIdentity[] }>();

const own = params<{ grantId: string; userId: string }>();

/** The grant only if it is this user's: anyone else's is as unknown as a made-up id. */
export const LOCK_OWN_GRANT = statement(
  'account_lock_own_grant',
  sql`SELECT g.id AS grant_id, g.client_id, g.user_id, g.resource_id, r.resource AS resource_url, g.revoked_at IS NOT NULL AS revoked
         FROM grants g JOIN resource_servers r ON r.id = g.resource_id
        WHERE g.id = ${own.grantId}::uuid AND g.user_id = ${own.userId}::uuid
          FOR UPDATE OF g`,
).returning<{ grant_id: string; client_id: string; user_id: string; resource_id: string; resource_url: string; revoked: boolean }>();

export function userGrantSummary(row: UserGrantRow): UserGrantSummary {
  return {
    grantId: row.grant_id,
    clientId: row.client_id,
    clientKind: row.client_kind,
    clientMetadata: row.client_metadata,
    resourceName: row.resource_name,
    resourceUrl: row.resource_url,
    scopes: row.scopes,
    lastUsedAt: new Date(row.last_used_at),
  };
}

/** What the account page reads: the person, their ways in, and the applications they let in. */
@Injectable()
export class AccountRepository {
  constructor(private readonly database: Database) {}

  /** Null when the user no longer exists or is disabled: a session can outlive its user, or their right to sign in. */
  async owner(userId: string): Promise<AccountOwner | null> {
    const [row] = await this.database.run(ACCOUNT_OWNER, { userId });
    return row ? { displayName: row.display_name, identities: row.identities } : null;
  }

  async connectedApplications(userId: string): Promise<ConnectedApplication[]> {
    const rows = await this.database.run(LIST_USER_GRANTS, { userId, liveOnly: true });
    return rows.map((row) => ({ ...userGrantSummary(row), scopeDescriptions: row.scope_descriptions, allowedAt: new Date(row.created_at) }));
  }

  async lockOwnGrant(tx: Tx, grantId: string, userId: string): Promise<OwnGrant | null> {
    const [row] = await runStatement(tx, LOCK_OWN_GRANT, { grantId, userId });
    if (!row) return null;
    return { grantId: row.grant_id, clientId: row.client_id, userId: row.user_id, resourceId: row.resource_id, resourceUrl: row.resource_url, revoked: row.revoked };
  }
}
