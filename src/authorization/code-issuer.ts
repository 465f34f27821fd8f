import { Inject, Injectable } from '@nestjs/common';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { randomToken, sha256 } from '../common/crypto.js';
import { BrowserError, OAuthError } from '../common/oauth-errors.js';
import type { Tx } from '../database/data-source.js';
import { AuditLog } from '../audit/audit-log.js';
import type { ResourceServerEntity } from '../resources/resource-server.entity.js';
import { AuthorizationCodeRepository } from './authorization-code.repository.js';
import { ConsentRepository } from './consent.repository.js';
import { InteractionRepository } from './interaction.repository.js';
import type { InteractionEntity } from './interaction.entity.js';

export type ConsentSource = 'approved' | 'remembered' | 'product';

/**
 * The end of every interaction, whichever page asked for consent (Gatehouse's, or the product's): complete the
 * interaction exactly once, record consent, issue a single-use code bound to PKCE and the redirect URI — or send
 * the client `access_denied`. Everything in the caller's transaction.
 */
@Injectable()
export class CodeIssuer {
  constructor(
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    private readonly interactions: InteractionRepository,
    private readonly consents: ConsentRepository,
    private readonly codes: AuthorizationCodeRepository,
    private readonly audit: AuditLog,
  ) {}

  /** Returns the client redirect carrying `code`, `state` and `iss` (RFC 9207). */
  async approve(tx: Tx, interaction: InteractionEntity, resource: ResourceServerEntity, userId: string, scopes: string[], how: ConsentSource): Promise<string> {
    if (!(await this.interactions.complete(tx, interaction.id))) throw expiredInteraction();
    if (how !== 'remembered') {
      await this.consents.grant(tx, userId, interaction.clientId, interaction.resourceId, scopes);
      await this.audit.record(tx, { type: 'consent.granted', clientId: interaction.clientId, subject: userId, resource: resource.resource, data: { scopes, via: how } });
    }
    const code = randomToken();
    await this.codes.insert(tx, {
      codeHash: sha256(code),
      clientId: interaction.clientId,
      userId,
      resourceId: interaction.resourceId,
      scopes,
      redirectUri: interaction.redirectUri,
      codeChallenge: interaction.codeChallenge,
      expiresAt: new Date(Date.now() + this.config.authorizationCodeTtlSeconds * 1000),
    });
    await this.audit.record(tx, {
      type: 'authorization_code.issued',
      clientId: interaction.clientId,
      subject: userId,
      resource: resource.resource,
      data: { scopes, consent: how },
    });
    return this.clientRedirect(interaction, { code });
  }

  async deny(tx: Tx, interaction: InteractionEntity, resource: ResourceServerEntity, userId: string | null): Promise<string> {
    if (!(await this.interactions.complete(tx, interaction.id))) throw expiredInteraction();
    await this.audit.record(tx, { type: 'consent.denied', clientId: interaction.clientId, subject: userId, resource: resource.resource, data: { scopes: interaction.scopes } });
    return this.errorRedirect(interaction.redirectUri, new OAuthError('access_denied', 'the user denied the request'), interaction.state ?? undefined);
  }

  /** An OAuth error sent back to the client's redirect URI, with `state` and `iss`. */
  errorRedirect(redirectUri: string, error: OAuthError, state: string | undefined): string {
    const location = new URL(redirectUri);
    location.searchParams.set('error', error.code);
    location.searchParams.set('error_description', error.description);
    if (state !== undefined) location.searchParams.set('state', state);
    location.searchParams.set('iss', this.config.issuer);
    return location.href;
  }

  private clientRedirect(interaction: InteractionEntity, params: Record<string, string>): string {
    const location = new URL(interaction.redirectUri);
    for (const [key, value] of Object.entries(params)) location.searchParams.set(key, value);
    if (interaction.state !== null) location.searchParams.set('state', interaction.state);
    location.searchParams.set('iss', this.config.issuer);
    return location.href;
  }
}

export function expiredInteraction(): BrowserError {
  return new BrowserError(400, 'Sign-in request expired', 'This authorization request has expired or was already completed. Return to the application and start again.');
}
