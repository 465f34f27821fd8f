import { Injectable } from '@nestjs/common';
import type { RequestContext } from '../common/http.js';
import { InvalidRequest, NotFound } from '../common/oauth-errors.js';
import { Database } from '../database/database.module.js';
import { AuditLog } from '../audit/audit-log.js';
import { UserRepository, type ManagedUser, type UserFilter } from '../authorization/user.repository.js';
import { isUuid } from '../resources/resources.service.js';
import type { AuditActor } from '../audit/audit-schema.js';
import { GrantsService } from './grants.service.js';
import { RecordCache } from '../database/record-cache.js';

/** Most users one search returns: enough to pick from, few enough for one page. */
export const USER_SEARCH_LIMIT = 100;

export interface ManagedUserView {
  id: string;
  display_name: string | null;
  created_at: string;
  disabled: boolean;
  disabled_at: string | null;
  live_grants: number;
  identities: Array<{
    provider: string;
    subject: string;
    login: string | null;
    name: string | null;
    email: string | null;
    email_verified: boolean;
    groups: string[];
    created_at: string;
    updated_at: string;
  }>;
}

/**
 * Users as an administrator manages them: found by login, email or provider, and disabled or enabled. Disabling is
 * one transaction: the user is marked, every live grant revoked (its refresh and access tokens with it), and every
 * consent forgotten, so that nothing the user held still works and, once enabled again, every authorization asks.
 */
@Injectable()
export class UserManagementService {
  constructor(
    private readonly database: Database,
    private readonly users: UserRepository,
    private readonly grants: GrantsService,
    private readonly audit: AuditLog,
    private readonly cache: RecordCache,
  ) {}

  find(filter: UserFilter): Promise<ManagedUser[]> {
    return this.users.search(filter, USER_SEARCH_LIMIT);
  }

  async get(id: string): Promise<ManagedUser> {
    const user = isUuid(id) ? await this.users.managed(id) : null;
    if (!user) throw new NotFound(`no user with id ${id}`);
    return user;
  }

  /**
   * The user a CLI argument names: its id, `provider:login` (the last `:` separates them, as `oidc:` providers
   * have one of their own), or an email address — when exactly one user answers to it.
   */
  async resolve(reference: string): Promise<ManagedUser> {
    if (isUuid(reference)) return this.get(reference);
    const separator = reference.lastIndexOf(':');
    const filter: UserFilter =
      separator > 0
        ? { provider: reference.slice(0, separator), login: reference.slice(separator + 1), email: null, q: null }
        : reference.includes('@')
          ? { provider: null, login: null, email: reference, q: null }
          : { provider: null, login: reference, email: null, q: null };
    const found = await this.users.search(filter, 2);
    if (found.length === 0) throw new NotFound(`no user is ${reference}`);
    if (found.length > 1) throw new InvalidRequest(`more than one user is ${reference}; name the user by id (users find ${reference})`);
    return found[0]!;
  }

  /**
   * Disables the user (see the class); records `admin.user_disabled` when it was enabled. `actor`: a console operator
   * (absent: the admin API or the CLI).
   */
  async disable(id: string, request?: RequestContext, actor?: AuditActor): Promise<ManagedUser> {
    await this.get(id);
    return this.database.transaction(async (tx) => {
      // The user's row first: a code exchange or mint giving the user a grant now holds it, and is waited for.
      if (await this.users.setDisabled(tx, id, true)) {
        // Introspection's memory of the user's tokens goes with the commit, whatever grants the revocation finds.
        await this.cache.invalidate(tx, 'user', [id]);
        const { revoked, consentsCleared } = await this.grants.revokeAllIn(tx, { userId: id }, 'user_disabled', request, actor);
        await this.audit.record(tx, { type: 'admin.user_disabled', subject: id, request, actor, data: { grants_revoked: revoked, consents_cleared: consentsCleared } });
      }
      return (await this.users.managed(id, tx))!;
    });
  }

  /** Enables the user again; records `admin.user_enabled` when it was disabled. What disabling revoked stays revoked. */
  async enable(id: string, request?: RequestContext, actor?: AuditActor): Promise<ManagedUser> {
    await this.get(id);
    return this.database.transaction(async (tx) => {
      if (await this.users.setDisabled(tx, id, false)) await this.audit.record(tx, { type: 'admin.user_enabled', subject: id, request, actor, data: {} });
      return (await this.users.managed(id, tx))!;
    });
  }
}

export function toManagedUserView(user: ManagedUser): ManagedUserView {
  return {
    id: user.id,
    display_name: user.displayName,
    created_at: user.createdAt.toISOString(),
    disabled: user.disabledAt !== null,
    disabled_at: user.disabledAt?.toISOString() ?? null,
    live_grants: user.liveGrants,
    identities: user.identities.map((identity) => ({
      provider: identity.provider,
      subject: identity.subject,
      login: identity.login,
      name: identity.name,
      email: identity.email,
      email_verified: identity.emailVerified,
      groups: identity.groups,
      created_at: identity.createdAt.toISOString(),
      updated_at: identity.updatedAt.toISOString(),
    })),
  };
}
