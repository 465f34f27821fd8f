import { Injectable } from '@nestjs/common';
import { LIST_USER_GRANTS, userGrantSummary, type UserGrantSummary } from '../account/account.repository.js';
import { Database } from '../database/database.module.js';
import { params, sql, statement } from '../database/sql.js';
import type { OperatorRole } from './console-operator.entity.js';

/** A grant of a user not revoked yet, as the console's user page lists it. */
export interface UserGrant extends UserGrantSummary {
  grantedAt: Date;
  /** Whether one of its refresh tokens can still be rotated (false: it lives on only in unexpired access tokens). */
  refreshable: boolean;
}

const owner = params<{ userId: string }>();

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
    // Every unrevoked grant, not only the live ones the account page shows: "revoke all" and disabling revoke them all.
    const rows = await this.database.run(LIST_USER_GRANTS, { userId, liveOnly: false });
    return rows.map((row) => ({ ...userGrantSummary(row), grantedAt: new Date(row.created_at), refreshable: row.refreshable }));
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
