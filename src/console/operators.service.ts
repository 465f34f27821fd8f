import { Inject, Injectable } from '@nestjs/common';
import { GATEHOUSE_CONFIG, type ConsoleAdminIdentity, type GatehouseConfig } from '../config/config.js';
import type { RequestContext } from '../common/http.js';
import { NotFound } from '../common/oauth-errors.js';
import { Database } from '../database/database.module.js';
import { AuditLog, type AuditEvent } from '../audit/audit-log.js';
import { DEV_PROVIDER } from '../authorization/signed-in-identity.js';
import { isUuid } from '../resources/resources.service.js';
import type { OperatorRole } from './console-operator.entity.js';
import { ConsoleRepository, type ConsoleUser, type Operator, type OperatorIdentity } from './console.repository.js';

/** Who changed a role: an administrator (the admin API or the CLI, as the audit log tells them apart by default). */
type RoleActor = AuditEvent['actor'];

/** The actor of a role CONSOLE_ADMINS granted. */
export const CONFIG_ACTOR = { kind: 'admin', id: 'config' } as const;

/**
 * The console's operators: who has which role, granting and revoking (each recorded as an audit event in the same
 * transaction), and the first admins CONSOLE_ADMINS names.
 */
@Injectable()
export class OperatorsService {
  constructor(
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    private readonly database: Database,
    private readonly repository: ConsoleRepository,
    private readonly audit: AuditLog,
  ) {}

  list(): Promise<Operator[]> {
    return this.repository.operators();
  }

  async grant(userId: string, role: OperatorRole, request: RequestContext | undefined, actor?: RoleActor): Promise<Operator> {
    if (!isUuid(userId)) throw noSuchUser(userId);
    const granted = await this.database.transaction(async (tx) => {
      const result = await this.repository.grant(tx, userId, role, grantedBy(actor, request));
      if (!result) throw noSuchUser(userId);
      await this.audit.record(tx, { type: 'operator.granted', subject: userId, request, actor, data: { role, previous_role: result.previousRole } });
      return result.operator;
    });
    const user = await this.repository.user(userId);
    return { ...granted, displayName: user?.displayName ?? null, identities: user?.identities ?? [] };
  }

  /** The role taken away; 404 when the user has none (or does not exist). */
  async revoke(userId: string, request: RequestContext | undefined, actor?: RoleActor): Promise<{ userId: string; role: OperatorRole }> {
    if (!isUuid(userId)) throw noSuchUser(userId);
    return this.database.transaction(async (tx) => {
      const role = await this.repository.revoke(tx, userId);
      if (!role) throw new NotFound(`user ${userId} has no console role`);
      await this.audit.record(tx, { type: 'operator.revoked', subject: userId, request, actor, data: { role } });
      return { userId, role };
    });
  }

  /**
   * The signed-in user as the console sees them: their role, which CONSOLE_ADMINS makes `admin` when one of their
   * identities is named there and they have no role yet. Null when the user no longer exists or is disabled: a
   * session outlives neither, so disabling an operator shuts them out of the console at once.
   */
  async signedIn(userId: string, request: RequestContext | undefined): Promise<ConsoleUser | null> {
    const user = await this.repository.user(userId);
    if (!user || user.disabled) return null;
    if (user.role !== null || !user.identities.some((identity) => this.namedAdmin(identity))) return user;
    await this.database.transaction(async (tx) => {
      if (await this.repository.grantFirstAdmin(tx, userId)) {
        await this.audit.record(tx, { type: 'operator.granted', subject: userId, request, actor: CONFIG_ACTOR, data: { role: 'admin', previous_role: null } });
      }
    });
    return this.repository.user(userId);
  }

  private namedAdmin(identity: OperatorIdentity): boolean {
    // A development identity counts only while development sign-in is on, as its sessions do.
    if (identity.provider === DEV_PROVIDER && !this.config.devLogin) return false;
    return this.config.consoleAdmins.some((admin) => matches(admin, identity));
  }
}

/** As the CLI finds PROVIDER:LOGIN: the provider exactly, the login in any case. */
export function matches(admin: ConsoleAdminIdentity, identity: OperatorIdentity): boolean {
  return identity.provider === admin.provider && identity.login !== null && identity.login.toLowerCase() === admin.login.toLowerCase();
}

/** What granted_by records: the operator's user id, or the admin channel (`api`, `cli`) the audit event names. */
function grantedBy(actor: RoleActor, request: RequestContext | undefined): string {
  if (actor) return actor.id ?? actor.kind;
  return request ? 'api' : 'cli';
}

function noSuchUser(userId: string): NotFound {
  return new NotFound(`no user with id ${userId}`);
}
