import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { randomUUID } from 'node:crypto';
import type { Tx } from '../database/data-source.js';
import { params, runStatement, sql, statement } from '../database/sql.js';
import { UserEntity, UserIdentityEntity } from './user.entity.js';
import type { SignedInIdentity } from './signed-in-identity.js';

const lock = params<{ key: string }>();
export const LOCK_IDENTITY = statement('user_identity_lock', sql`SELECT pg_advisory_xact_lock(hashtext(${lock.key}))`);

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

function sameProfile(stored: UserIdentityEntity, profile: NonNullable<ExternalIdentity['profile']>): boolean {
  return (
    stored.name === profile.name &&
    stored.email === profile.email &&
    stored.emailVerified === profile.emailVerified &&
    stored.groups.length === profile.groups.length &&
    stored.groups.every((group, i) => group === profile.groups[i])
  );
}

/** What first sign-ins of one identity serialise on (`pg_advisory_xact_lock(hashtext(key))`), on every path. */
export function identityLockKey(identity: Pick<ExternalIdentity, 'provider' | 'subject'>): string {
  return `identity:${identity.provider}:${identity.subject}`;
}
