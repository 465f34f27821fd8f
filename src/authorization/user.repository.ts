import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { randomUUID } from 'node:crypto';
import type { Tx } from '../database/data-source.js';
import { params, runCounting, runStatement, sql, sqlText, statement, type SqlFragment } from '../database/sql.js';
import { UserEntity, UserIdentityEntity } from './user.entity.js';
import type { SignedInIdentity } from './signed-in-identity.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const lock = params<{ key: string }>();
export const LOCK_IDENTITY = statement('user_identity_lock', sql`SELECT pg_advisory_xact_lock(hashtext(${lock.key}))`);

/** A user as the admin API shows it: its identities, whether it is disabled, and how many live grants it holds. */
export interface ManagedUser {
  id: string;
  displayName: string | null;
  createdAt: Date;
  disabledAt: Date | null;
  liveGrants: number;
  identities: Array<{
    provider: string;
    subject: string;
    login: string | null;
    name: string | null;
    email: string | null;
    emailVerified: boolean;
    groups: string[];
    createdAt: Date;
    updatedAt: Date;
  }>;
}

/**
 * What to find users by: every given field must match one of the user's identities. `q`: a prefix of login, email or
 * name (any case), the provider's subject (a product's user: the product's own), or the user's id.
 */
export interface UserFilter {
  login: string | null;
  email: string | null;
  provider: string | null;
  q: string | null;
}

interface ManagedUserRow {
  id: string;
  display_name: string | null;
  created_at: Date | string;
  disabled_at: Date | string | null;
  live_grants: number;
  identities: Array<Record<string, unknown>>;
}

const MANAGED_USER_COLUMNS = sqlText(`u.id, u.display_name, u.created_at, u.disabled_at,
              (SELECT count(*) FROM grants g WHERE g.user_id = u.id AND g.revoked_at IS NULL)::int AS live_grants,
              coalesce((SELECT jsonb_agg(jsonb_build_object('provider', i.provider, 'subject', i.subject, 'login', i.login, 'name', i.name,
                                                           'email', i.email, 'email_verified', i.email_verified, 'groups', i.groups,
                                                           'created_at', i.created_at, 'updated_at', i.updated_at) ORDER BY i.created_at)
                          FROM user_identities i WHERE i.user_id = u.id), '[]'::jsonb) AS identities`);

const search = params<UserFilter & { limit: number }>();
export const USER_SEARCH = statement(
  'user_search',
  sql`SELECT ${MANAGED_USER_COLUMNS}
         FROM users u
        WHERE (${search.q}::text IS NOT NULL AND u.id::text = lower(${search.q}::text))
           OR EXISTS (SELECT 1 FROM user_identities i WHERE i.user_id = u.id
                 AND (${search.login}::text IS NULL OR lower(i.login) = lower(${search.login}::text))
                 AND (${search.email}::text IS NULL OR lower(i.email) = lower(${search.email}::text))
                 AND (${search.provider}::text IS NULL OR i.provider = ${search.provider}::text)
                 AND (${search.q}::text IS NULL OR starts_with(lower(i.login), lower(${search.q}::text))
                      OR starts_with(lower(i.email), lower(${search.q}::text)) OR starts_with(lower(i.name), lower(${search.q}::text))
                      -- The provider's subject; for a product's user (<resource id>:<subject>), the product's own.
                      OR i.subject = ${search.q}::text OR (i.provider = 'external' AND substr(i.subject, 38) = ${search.q}::text)))
        ORDER BY u.created_at DESC, u.id
        LIMIT ${search.limit}`,
).returning<ManagedUserRow>();

const byId = params<{ id: string }>();
export const MANAGED_USER = statement('user_managed', sql`SELECT ${MANAGED_USER_COLUMNS} FROM users u WHERE u.id = ${byId.id}::uuid`).returning<ManagedUserRow>();

export const USER_DISABLED = statement('user_disabled', sql`SELECT disabled_at IS NOT NULL AS disabled FROM users WHERE id = ${byId.id}::uuid`).returning<{ disabled: boolean }>();
/** As USER_DISABLED, holding the row until the transaction ends: disabling the user waits for what this one does with it. */
export const USER_DISABLED_LOCKED = statement('user_disabled_locked', sql`SELECT disabled_at IS NOT NULL AS disabled FROM users WHERE id = ${byId.id}::uuid FOR SHARE`).returning<{
  disabled: boolean;
}>();

export const USER_DISABLE = statement('user_disable', sql`UPDATE users SET disabled_at = now() WHERE id = ${byId.id}::uuid AND disabled_at IS NULL`);
export const USER_ENABLE = statement('user_enable', sql`UPDATE users SET disabled_at = NULL WHERE id = ${byId.id}::uuid AND disabled_at IS NOT NULL`);

/**
 * The identity claims (see IDENTITY_CLAIMS) of the identity row `identity`, as a jsonb object holding only the names
 * in the text[] `claims` and only the values the identity has: `preferred_username` is its login, `idp` its provider,
 * `email_verified` is said only of an email it has. The one definition, for every statement that snapshots claims.
 */
export function identityClaimsJson(claims: string, identity: string): SqlFragment<Record<never, never>> {
  for (const expression of [claims, identity]) if (!/^[a-z_][a-z0-9_.]*$/.test(expression)) throw new Error(`not a column or alias: ${expression}`);
  const when = (name: string, value: string): string => `'${name}', CASE WHEN '${name}' = ANY(${claims}) THEN ${value} END`;
  return sqlText(
    `jsonb_strip_nulls(jsonb_build_object(${[
      when('preferred_username', `${identity}.login`),
      when('name', `${identity}.name`),
      when('email', `${identity}.email`),
      when('email_verified', `CASE WHEN ${identity}.email IS NOT NULL THEN ${identity}.email_verified END`),
      when('groups', `to_jsonb(${identity}.groups)`),
      when('idp', `${identity}.provider`),
    ].join(', ')}))`,
  );
}

/** An identity to find or create; the profile (name, email, groups), when given, replaces the stored one. */
export interface ExternalIdentity {
  provider: string;
  subject: string;
  login: string | null;
  displayName: string | null;
  profile?: Pick<SignedInIdentity, 'name' | 'email' | 'emailVerified' | 'groups'>;
}

@Injectable()
export class UserRepository {
  constructor(private readonly dataSource: DataSource) {}

  findById(id: string, tx: Tx = this.dataSource.manager): Promise<UserEntity | null> {
    return tx.findOne(UserEntity, { where: { id } });
  }

  /**
   * Whether `id` is a user an administrator disabled (false for no user). With `lock`, the row stays locked until
   * `tx` ends: a transaction that goes on to give the user a grant asks so, and disabling then waits for the grant
   * and revokes it with the others.
   */
  async isDisabled(id: string, tx: Tx = this.dataSource.manager, lock = false): Promise<boolean> {
    const [row] = await runStatement(tx, lock ? USER_DISABLED_LOCKED : USER_DISABLED, { id });
    return row?.disabled === true;
  }

  /** Whether `value` is the id of a Gatehouse user (see MintService: a product subject must not be one). */
  async isUserId(value: string, tx: Tx = this.dataSource.manager): Promise<boolean> {
    if (!looksLikeUserId(value)) return false;
    return (await runStatement(tx, USER_DISABLED, { id: value })).length > 0;
  }

  /** Disables (or enables) the user; false when it already was. */
  async setDisabled(tx: Tx, id: string, disabled: boolean): Promise<boolean> {
    return (await runCounting(tx, disabled ? USER_DISABLE : USER_ENABLE, { id })) === 1;
  }

  /** Users matching every given field of `filter`, newest first, at most `limit`. */
  async search(filter: UserFilter, limit: number): Promise<ManagedUser[]> {
    return (await runStatement(this.dataSource.manager, USER_SEARCH, { ...filter, limit })).map(managedUser);
  }

  async managed(id: string, tx: Tx = this.dataSource.manager): Promise<ManagedUser | null> {
    const [row] = await runStatement(tx, MANAGED_USER, { id });
    return row ? managedUser(row) : null;
  }

  /** The user behind an identity, created on first sign-in. Concurrent first sign-ins serialise on a lock. */
  async findOrCreateByIdentity(tx: Tx, identity: ExternalIdentity): Promise<{ userId: string; created: boolean }> {
    await runStatement(tx, LOCK_IDENTITY, { key: identityLockKey(identity) });
    const existing = await tx.findOne(UserIdentityEntity, { where: { provider: identity.provider, subject: identity.subject } });
    const profile = identity.profile ?? {};
    if (existing) {
      const changed = existing.login !== identity.login || (identity.profile !== undefined && !sameProfile(existing, identity.profile));
      if (changed) {
        await tx.update(UserIdentityEntity, { provider: identity.provider, subject: identity.subject }, { login: identity.login, ...profile, updatedAt: new Date() });
      }
      return { userId: existing.userId, created: false };
    }
    const userId = randomUUID();
    await tx.insert(UserEntity, { id: userId, displayName: identity.displayName ?? identity.login });
    await tx.insert(UserIdentityEntity, { provider: identity.provider, subject: identity.subject, userId, login: identity.login, ...profile });
    return { userId, created: true };
  }
}

function managedUser(row: ManagedUserRow): ManagedUser {
  return {
    id: row.id,
    displayName: row.display_name,
    createdAt: new Date(row.created_at),
    disabledAt: row.disabled_at === null ? null : new Date(row.disabled_at),
    liveGrants: Number(row.live_grants),
    identities: row.identities.map((identity) => ({
      provider: String(identity.provider),
      subject: String(identity.subject),
      login: typeof identity.login === 'string' ? identity.login : null,
      name: typeof identity.name === 'string' ? identity.name : null,
      email: typeof identity.email === 'string' ? identity.email : null,
      emailVerified: identity.email_verified === true,
      groups: Array.isArray(identity.groups) ? identity.groups.map(String) : [],
      createdAt: new Date(String(identity.created_at)),
      updatedAt: new Date(String(identity.updated_at)),
    })),
  };
}

function sameProfile(stored: UserIdentityEntity, profile: NonNullable<ExternalIdentity['profile']>): boolean {
  return (
    stored.name === profile.name &&
    stored.email === profile.email &&
    stored.emailVerified === profile.emailVerified &&
    stored.groups.length === profile.groups.length &&
    stored.groups.every((group, i) => group === profile.groups[i])
  );
}

/** Whether `value` has the shape of a Gatehouse user id (a UUID): only then can it be one. */
export function looksLikeUserId(value: string): boolean {
  return UUID.test(value);
}

/** What first sign-ins of one identity serialise on (`pg_advisory_xact_lock(hashtext(key))`), on every path. */
export function identityLockKey(identity: Pick<ExternalIdentity, 'provider' | 'subject'>): string {
  return `identity:${identity.provider}:${identity.subject}`;
}
