import { Injectable } from '@nestjs/common';
import { Database } from '../database/database.module.js';
import { refreshTokenUsable } from '../database/refresh-token-usability.js';
import { params, sql, statement } from '../database/sql.js';
import type { ClientKind } from '../registration/client.entity.js';
import type { ClientMetadata } from '../registration/client-metadata.js';
import type { OperatorRole } from './console-operator.entity.js';

/** A grant of a user not revoked yet, as the console's user page lists it. */
export interface UserGrant {
  grantId: string;
  clientId: string;
  clientKind: ClientKind;
  clientMetadata: ClientMetadata;
  resourceName: string;
  resourceUrl: string;
  scopes: string[];
  grantedAt: Date;
  /** When the client last obtained tokens with it: its newest refresh token, or the grant itself. */
  lastUsedAt: Date;
  /** Whether one of its refresh tokens can still be rotated (false: it lives on only in unexpired access tokens). */
  refreshable: boolean;
}

interface UserGrantRow {
  grant_id: string;
  client_id: string;
  client_kind: ClientKind;
  client_metadata: ClientMetadata;
  resource_name: string;
  resource_url: string;
  scopes: string[];
  granted_at: Date | string;
  last_used_at: Date | string;
  refreshable: boolean;
}

const owner = params<{ userId: string }>();

/** Every grant of the user that is not revoked (what "revoke all" and disabling revoke), most recently used first. */
export const CONSOLE_USER_GRANTS = statement(
  'console_user_grants',
  sql`SELECT g.id AS grant_id, g.client_id, c.kind AS client_kind, c.metadata AS client_metadata,
              r.name AS resource_name, r.resource AS resource_url, g.scopes, g.created_at AS granted_at, used.last_used_at, used.refreshable
         FROM grants g
         JOIN clients c ON c.id = g.client_id
         JOIN resource_servers r ON r.id = g.resource_id
         CROSS JOIN LATERAL (
           SELECT greatest(max(rt.created_at), g.created_at) AS last_used_at, coalesce(bool_or(${refreshTokenUsable('rt', 'g')}), false) AS refreshable
             FROM refresh_tokens rt WHERE rt.grant_id = g.id
         ) used
        WHERE g.user_id = ${owner.userId}::uuid AND g.revoked_at IS NULL
        ORDER BY used.last_used_at DESC, g.id`,
).returning<UserGrantRow>();

/**
 * When the user last signed in, as far as the audit log still remembers (its retention may have removed it). Read
 * for one user only: the subject index finds their events, newest first, and stops at the first sign-in.
 */
export const CONSOLE_USER_LAST_SIGN_IN = statement(
  'console_user_last_sign_in',
  sql`SELECT occurred_at FROM audit_events
        WHERE subject = ${owner.userId}::text AND type = 'login.succeeded'
        ORDER BY seq DESC LIMIT 1`,
).returning<{ occurred_at: Date | string }>();

const some = params<{ userIds: string[] }>();

export const CONSOLE_USER_ROLES = statement(
  'console_user_roles',
  sql`SELECT user_id, role FROM console_operators WHERE user_id = ANY(${some.userIds}::uuid[])`,
).returning<{ user_id: string; role: OperatorRole }>();

/**
 * The providers users have identities of, each once: a walk up the primary key (provider, subject) that reads one
 * index entry per provider instead of every identity.
 */
export const CONSOLE_USER_PROVIDERS = statement(
  'console_user_providers',
  sql`WITH RECURSIVE present AS (
         SELECT min(provider) AS provider FROM user_identities
         UNION ALL
         SELECT (SELECT min(i.provider) FROM user_identities i WHERE i.provider > present.provider) FROM present WHERE present.provider IS NOT NULL
       )
       SELECT provider FROM present WHERE provider IS NOT NULL`,
).returning<{ provider: string }>();

/** What the console's users pages read beyond UserManagementService: roles, grants with their names, the last sign-in. */
@Injectable()
export class ConsoleUsersRepository {
  constructor(private readonly database: Database) {}

  async grants(userId: string): Promise<UserGrant[]> {
    const rows = await this.database.run(CONSOLE_USER_GRANTS, { userId });
    return rows.map((row) => ({
      grantId: row.grant_id,
      clientId: row.client_id,
      clientKind: row.client_kind,
      clientMetadata: row.client_metadata,
      resourceName: row.resource_name,
      resourceUrl: row.resource_url,
      scopes: row.scopes,
      grantedAt: new Date(row.granted_at),
      lastUsedAt: new Date(row.last_used_at),
      refreshable: row.refreshable,
    }));
  }

  async lastSignIn(userId: string): Promise<Date | null> {
    const [row] = await this.database.run(CONSOLE_USER_LAST_SIGN_IN, { userId });
    return row ? new Date(row.occurred_at) : null;
  }

  /** The console role of each of the users that has one. */
  async roles(userIds: readonly string[]): Promise<Map<string, OperatorRole>> {
    if (userIds.length === 0) return new Map();
    const rows = await this.database.run(CONSOLE_USER_ROLES, { userIds: [...userIds] });
    return new Map(rows.map((row) => [row.user_id, row.role]));
  }

  async providers(): Promise<string[]> {
    return (await this.database.run(CONSOLE_USER_PROVIDERS, {})).map((row) => row.provider);
  }
}
