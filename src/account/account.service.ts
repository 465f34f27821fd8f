import { Inject, Injectable } from '@nestjs/common';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import type { RequestContext } from '../common/http.js';
import { BrowserError } from '../common/oauth-errors.js';
import { isLoopbackHost, parseUrl } from '../common/urls.js';
import { Database } from '../database/database.module.js';
import { AuditLog } from '../audit/audit-log.js';
import type { AuditActor } from '../audit/audit-schema.js';
import { clientName, describeRedirect, metadataDocumentHost } from '../authorization/authorization.service.js';
import { ConsentRepository } from '../authorization/consent.repository.js';
import { SignInChoices } from '../authorization/sign-in-choices.js';
import type { ClientEntity } from '../registration/client.entity.js';
import type { ClientMetadata } from '../registration/client-metadata.js';
import { isUuid } from '../resources/resources.service.js';
import { GrantsService } from '../tokens/grants.service.js';
import { AccountRepository, type AccountIdentity, type ConnectedApplication } from './account.repository.js';
import { accountPage, accountSignInPage, type AccountNotice, type ConnectedApplicationView } from './account-views.js';

/** The revocation reason of grant.revoked when the person revoked it on their account page (the event's actor is the user). */
export const REVOKED_BY_USER = 'revoked_by_user';
/** The revocation reason when a console operator revoked it for the user (the events name the operator as actor). */
export const REVOKED_BY_ADMIN = 'revoked_by_admin';

/**
 * The person's own account page: who they are signed in as, the applications they let act for them, and revoking
 * one (its grant and the consent behind it, so that the application must ask again).
 */
@Injectable()
export class AccountService {
  constructor(
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    private readonly database: Database,
    private readonly accounts: AccountRepository,
    private readonly grants: GrantsService,
    private readonly consents: ConsentRepository,
    private readonly audit: AuditLog,
    private readonly choices: SignInChoices,
  ) {}

  /** The account page of `userId`, or the sign-in page when nobody (or a user that no longer exists) is signed in. */
  async page(userId: string | null, csrfToken: string | null, notice: AccountNotice | null): Promise<string> {
    const owner = userId && csrfToken ? await this.accounts.owner(userId) : null;
    if (!userId || !csrfToken || !owner) {
      return accountSignInPage({ serverName: this.serverName, providers: await this.choices.forAccount(), notice, devLogin: this.config.devLogin });
    }
    const applications = await this.accounts.connectedApplications(userId);
    const identities = await Promise.all(
      owner.identities.map(async (identity) => ({ providerName: await this.choices.providerName(identity.provider), handle: handleOf(identity) })),
    );
    return accountPage({
      serverName: this.serverName,
      displayName: owner.displayName ?? owner.identities.map(handleOf)[0] ?? 'you',
      identities,
      applications: applications.map(toView),
      csrfToken,
      notice,
      devLogin: this.config.devLogin,
    });
  }

  /**
   * Revokes the user's grant and forgets the consent behind it, in one transaction. A grant id that is not this
   * user's is answered as an unknown one (404) and changes nothing. Revoking twice is not an error. `operator`: a
   * console operator revoking it for the user, the actor of both events (absent: the user on their account page).
   */
  async revoke(userId: string, grantId: string, request: RequestContext | undefined, operator?: AuditActor): Promise<'revoked' | 'already-revoked'> {
    if (!isUuid(grantId)) throw notFound();
    return this.database.transaction(async (tx) => {
      const grant = await this.accounts.lockOwnGrant(tx, grantId, userId);
      if (!grant) throw notFound();
      const reason = operator ? REVOKED_BY_ADMIN : REVOKED_BY_USER;
      const revoked = await this.grants.revoke(tx, { id: grant.grantId, clientId: grant.clientId, userId }, reason, request, operator);
      const scopes = await this.consents.forgetOne(tx, { userId, clientId: grant.clientId, resourceId: grant.resourceId });
      if (scopes) {
        await this.audit.record(tx, {
          type: 'consent.withdrawn',
          clientId: grant.clientId,
          subject: userId,
          resource: grant.resourceUrl,
          request,
          actor: operator,
          data: { scopes, grant_id: grant.grantId },
        });
      }
      return revoked ? 'revoked' : 'already-revoked';
    });
  }

  /** The ways to sign in to the account page, in the order shown. Each provider adds its own here. */
  private get serverName(): string {
    return parseUrl(this.config.issuer)?.host ?? this.config.issuer;
  }
}

function notFound(): BrowserError {
  return new BrowserError(404, 'Not found', 'There is no such connected application on your account. Return to your account page and try again.');
}

function handleOf(identity: AccountIdentity): string {
  return identity.login ?? identity.email ?? identity.name ?? 'unnamed';
}

function toView(application: ConnectedApplication): ConnectedApplicationView {
  const client = { id: application.clientId, kind: application.clientKind, metadata: application.clientMetadata };
  return {
    grantId: application.grantId,
    name: clientName(client),
    host: applicationHost(client),
    resourceName: application.resourceName,
    resourceUrl: application.resourceUrl,
    scopes: application.scopes,
    scopeDescriptions: application.scopeDescriptions,
    allowedAt: application.allowedAt,
    lastUsedAt: application.lastUsedAt,
  };
}

/**
 * Where the application is, as far as Gatehouse can tell: the host of its metadata document (which identifies it);
 * the site an administrator registered it with; else where its redirects go. A dynamic client's `client_uri` is only
 * its own claim, so it comes last.
 */
export function applicationHost(client: Pick<ClientEntity, 'id' | 'kind'> & { metadata: Pick<ClientMetadata, 'client_uri' | 'redirect_uris'> }): string {
  const documentHost = metadataDocumentHost(client);
  if (documentHost) return documentHost;
  const site = client.metadata.client_uri ? parseUrl(client.metadata.client_uri)?.host : undefined;
  if (site && client.kind === 'static') return site;
  const redirect = client.metadata.redirect_uris?.[0];
  if (!redirect) return site ?? client.id;
  const url = parseUrl(redirect);
  // A loopback redirect names no site: the application is a program on the person's own computer.
  return url && url.protocol === 'http:' && isLoopbackHost(url.hostname) ? `on your computer (${url.host})` : describeRedirect(redirect);
}
