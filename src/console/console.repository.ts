import { Injectable } from '@nestjs/common';
import type { Tx } from '../database/data-source.js';
import { Database } from '../database/database.module.js';
import { params, sql, sqlText, statement } from '../database/sql.js';
import type { OperatorRole } from './console-operator.entity.js';
import { ACTIVITY_EVENT_TYPES, type ActivityCount, type ActivityWindow } from './console-activity.js';

/** One of the ways an operator signs in, as the console and CONSOLE_ADMINS read it. */
export interface OperatorIdentity {
  provider: string;
  login: string | null;
  email: string | null;
}

/** A Gatehouse user with their console role (null: none), their name and their identities. */
export interface ConsoleUser {
  userId: string;
  displayName: string | null;
  role: OperatorRole | null;
  identities: OperatorIdentity[];
  /** An administrator disabled the user: their session opens no console page. */
  disabled: boolean;
}

export interface Operator {
  userId: string;
  displayName: string | null;
  role: OperatorRole;
  grantedAt: Date;
  grantedBy: string;
  identities: OperatorIdentity[];
}

/** What the overview counts; `liveGrants` are grants not revoked. */
export interface ConsoleCounts {
  resourceServers: number;
  dynamicClients: number;
  metadataDocumentClients: number;
  preRegisteredClients: number;
  users: number;
  liveGrants: number;
  identityProviders: number;
}

interface OperatorRow {
  user_id: string;
  display_name: string | null;
  role: OperatorRole;
  granted_at: Date | string;
  granted_by: string;
  identities: OperatorIdentity[];
}

const IDENTITIES = sqlText(`coalesce((SELECT json_agg(json_build_object('provider', i.provider, 'login', i.login, 'email', i.email) ORDER BY i.created_at, i.provider)
                          FROM user_identities i WHERE i.user_id = u.id), '[]'::json) AS identities`);

const user = params<{ userId: string }>();

/** The user and their role, if any: null row when the user no longer exists (a session can outlive its user). */
export const CONSOLE_USER = statement(
  'console_user',
  sql`SELECT u.id AS user_id, u.display_name, o.role, ${IDENTITIES}, u.disabled_at IS NOT NULL AS disabled
         FROM users u LEFT JOIN console_operators o ON o.user_id = u.id
        WHERE u.id = ${user.userId}::uuid`,
).returning<{ user_id: string; display_name: string | null; role: OperatorRole | null; identities: OperatorIdentity[]; disabled: boolean }>();

export const LIST_OPERATORS = statement(
  'console_operators_list',
  sql`SELECT o.user_id, u.display_name, o.role, o.granted_at, o.granted_by, ${IDENTITIES}
         FROM console_operators o JOIN users u ON u.id = o.user_id
        ORDER BY o.granted_at, o.user_id`,
).returning<OperatorRow>();

const grant = params<{ userId: string; role: OperatorRole; grantedBy: string }>();

/**
 * The user's role before a change (null: none), with the user's row locked so that changes of one user's role take
 * turns and each sees the one before; no row when the user does not exist.
 */
export const LOCK_OPERATOR_USER = statement(
  'console_operators_lock_user',
  sql`SELECT o.role FROM users u LEFT JOIN console_operators o ON o.user_id = u.id
        WHERE u.id = ${user.userId}::uuid
          FOR UPDATE OF u`,
).returning<{ role: OperatorRole | null }>();

/** Gives the user the role, or changes theirs. */
export const GRANT_OPERATOR = statement(
  'console_operators_grant',
  sql`INSERT INTO console_operators (user_id, role, granted_by) VALUES (${grant.userId}::uuid, ${grant.role}::text, ${grant.grantedBy}::text)
       ON CONFLICT (user_id) DO UPDATE SET role = excluded.role, granted_at = now(), granted_by = excluded.granted_by
       RETURNING user_id, role, granted_at, granted_by`,
).returning<{ user_id: string; role: OperatorRole; granted_at: Date | string; granted_by: string }>();

/** CONSOLE_ADMINS: admin only for a user with no role yet (a role an admin chose since is kept). */
export const GRANT_FIRST_ADMIN = statement(
  'console_operators_grant_first_admin',
  sql`INSERT INTO console_operators (user_id, role, granted_by) VALUES (${user.userId}::uuid, 'admin', 'config')
       ON CONFLICT (user_id) DO NOTHING
       RETURNING role`,
).returning<{ role: OperatorRole }>();

export const REVOKE_OPERATOR = statement(
  'console_operators_revoke',
  sql`DELETE FROM console_operators WHERE user_id = ${user.userId}::uuid RETURNING role`,
).returning<{ role: OperatorRole }>();

/** Everything the overview counts, in one statement. Clients of kind `static` are the pre-registered ones. */
export const CONSOLE_COUNTS = statement(
  'console_counts',
  sql`SELECT (SELECT count(*) FROM resource_servers)::int AS resource_servers,
              (SELECT count(*) FROM clients WHERE kind = 'dynamic')::int AS dynamic_clients,
              (SELECT count(*) FROM clients WHERE kind = 'metadata_document')::int AS metadata_document_clients,
              (SELECT count(*) FROM clients WHERE kind = 'static')::int AS pre_registered_clients,
              (SELECT count(*) FROM users)::int AS users,
              (SELECT count(*) FROM grants WHERE revoked_at IS NULL)::int AS live_grants,
              (SELECT count(*) FROM identity_providers)::int AS identity_providers`,
).returning<{
  resource_servers: number;
  dynamic_clients: number;
  metadata_document_clients: number;
  pre_registered_clients: number;
  users: number;
  live_grants: number;
  identity_providers: number;
}>();

const activity = params<{ types: readonly string[]; start: Date; end: Date; bucketSeconds: number }>();

/**
 * The overview's charts: events of the charted types in [start, end), counted per bucket (its index from start),
 * type and the data keys that name a refusal's reason. Buckets without events have no row; the caller fills the
 * zeros. The range on occurred_at with the types is what the index audit_events_type_time serves.
 */
export const ACTIVITY_COUNTS = statement(
  'console_activity_counts',
  sql`SELECT floor(extract(epoch FROM occurred_at - ${activity.start}::timestamptz) / ${activity.bucketSeconds}::int)::int AS bucket,
              type, data->>'reason' AS reason, data->>'policy' AS policy, count(*)::int AS events
         FROM audit_events
        WHERE type = ANY(${activity.types}::text[])
          AND occurred_at >= ${activity.start}::timestamptz AND occurred_at < ${activity.end}::timestamptz
        GROUP BY 1, 2, 3, 4`,
).returning<{ bucket: number; type: string; reason: string | null; policy: string | null; events: number }>();

/** The console's roles, and what its overview reads. */
@Injectable()
export class ConsoleRepository {
  constructor(private readonly database: Database) {}

  async user(userId: string, tx?: Tx): Promise<ConsoleUser | null> {
    const [row] = await this.database.run(CONSOLE_USER, { userId }, tx);
    return row ? { userId: row.user_id, displayName: row.display_name, role: row.role, identities: row.identities, disabled: row.disabled } : null;
  }

  async operators(): Promise<Operator[]> {
    return (await this.database.run(LIST_OPERATORS, {})).map(toOperator);
  }

  /** Null when the user does not exist. */
  async grant(tx: Tx, userId: string, role: OperatorRole, grantedBy: string): Promise<{ operator: Omit<Operator, 'displayName' | 'identities'>; previousRole: OperatorRole | null } | null> {
    const [previous] = await this.database.run(LOCK_OPERATOR_USER, { userId }, tx);
    if (!previous) return null;
    const [row] = await this.database.run(GRANT_OPERATOR, { userId, role, grantedBy }, tx);
    if (!row) throw new Error('console_operators_grant returned no row');
    return { operator: { userId: row.user_id, role: row.role, grantedAt: new Date(row.granted_at), grantedBy: row.granted_by }, previousRole: previous.role };
  }

  /** True when this made the user an admin; false when they already had a role. */
  async grantFirstAdmin(tx: Tx, userId: string): Promise<boolean> {
    return (await this.database.run(GRANT_FIRST_ADMIN, { userId }, tx)).length > 0;
  }

  /** The role taken away, or null when the user had none. */
  async revoke(tx: Tx, userId: string): Promise<OperatorRole | null> {
    const [row] = await this.database.run(REVOKE_OPERATOR, { userId }, tx);
    return row?.role ?? null;
  }

  async counts(): Promise<ConsoleCounts> {
    const [row] = await this.database.run(CONSOLE_COUNTS, {});
    if (!row) throw new Error('console_counts returned no row');
    return {
      resourceServers: row.resource_servers,
      dynamicClients: row.dynamic_clients,
      metadataDocumentClients: row.metadata_document_clients,
      preRegisteredClients: row.pre_registered_clients,
      users: row.users,
      liveGrants: row.live_grants,
      identityProviders: row.identity_providers,
    };
  }

  /** Counts of the charted events in the window, per bucket, type and reason (see ACTIVITY_COUNTS). */
  async activity(window: ActivityWindow): Promise<ActivityCount[]> {
    return this.database.run(ACTIVITY_COUNTS, { types: ACTIVITY_EVENT_TYPES, start: window.start, end: window.end, bucketSeconds: window.bucketMs / 1000 });
  }
}

function toOperator(row: OperatorRow): Operator {
  return {
    userId: row.user_id,
    displayName: row.display_name,
    role: row.role,
    grantedAt: new Date(row.granted_at),
    grantedBy: row.granted_by,
    identities: row.identities,
  };
}
