import { Inject, Injectable } from '@nestjs/common';
import type { RequestContext } from '../common/http.js';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { randomToken, sha256 } from '../common/crypto.js';
import { BrowserError, OAuthError } from '../common/oauth-errors.js';
import { AuditLog, type AuditEvent } from '../audit/audit-log.js';
import type { ResourceServerEntity } from '../resources/resource-server.entity.js';
import { AuthorizationCodeRepository } from './authorization-code.repository.js';
import { InteractionRepository, type CompletionGuard } from './interaction.repository.js';
import type { InteractionEntity } from './interaction.entity.js';

export type ConsentSource = 'approved' | 'remembered' | 'product';

/**
 * The end of every interaction, whichever page asked for consent (Gatehouse's, or the product's): complete the
 * interaction exactly once, record consent, issue a single-use code bound to PKCE and the redirect URI — or send
 * the client `access_denied`. Each as one statement with its audit events (no BEGIN/COMMIT): all of it or nothing.
 */
/** How a completion is made: `guard`, what must still hold when it is made; `request`, the request making it (audit). */
export interface Completion {
  guard?: CompletionGuard | null;
  request?: RequestContext;
  /** The provider of the identity that signed in (its claims go into the grant); null when not known. */
  identityProvider?: string | null;
}

@Injectable()
export class CodeIssuer {
  constructor(
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    private readonly interactions: InteractionRepository,
    private readonly codes: AuthorizationCodeRepository,
    private readonly audit: AuditLog,
  ) {}

  /**
   * Returns the client redirect carrying `code`, `state` and `iss` (RFC 9207); null when nothing happened because
   * the interaction was already completed, has expired, or no longer meets `guard`.
   */
  async approve(
    interaction: InteractionEntity,
    resource: ResourceServerEntity,
    userId: string,
    scopes: string[],
    how: ConsentSource,
    { guard = null, request, identityProvider = null }: Completion = {},
  ): Promise<string | null> {
    const code = randomToken();
    const change = this.codes.issuance({
      interactionId: interaction.id,
      guard,
      consent: how === 'remembered' ? null : { userId, clientId: interaction.clientId, resourceId: interaction.resourceId, scopes },
      code: {
        codeHash: sha256(code),
        clientId: interaction.clientId,
        userId,
        resourceId: interaction.resourceId,
        scopes,
        redirectUri: interaction.redirectUri,
        codeChallenge: interaction.codeChallenge,
        dpopJkt: interaction.dpopJkt,
        identityProvider,
        expiresAt: new Date(Date.now() + this.config.authorizationCodeTtlSeconds * 1000),
      },
    });
    const events: AuditEvent[] = [];
    if (how !== 'remembered') {
      events.push({ type: 'consent.granted', clientId: interaction.clientId, subject: userId, resource: resource.resource, request, data: { scopes, via: how } });
    }
    events.push({ type: 'authorization_code.issued', clientId: interaction.clientId, subject: userId, resource: resource.resource, request, data: { scopes, consent: how } });
    const written = await this.audit.recordWith(change, events);
    return written.events.length > 0 ? this.clientRedirect(interaction, { code }) : null;
  }

  /** Returns the client redirect carrying `access_denied`; null when nothing happened (see approve). */
  async deny(interaction: InteractionEntity, resource: ResourceServerEntity, userId: string | null, { guard = null, request }: Completion = {}): Promise<string | null> {
    const written = await this.audit.recordWith(this.interactions.denial(interaction.id, guard), [
      { type: 'consent.denied', clientId: interaction.clientId, subject: userId, resource: resource.resource, request, data: { scopes: interaction.scopes } },
    ]);
    if (written.events.length === 0) return null;
    return this.errorRedirect(interaction.redirectUri, new OAuthError('access_denied', 'the user denied the request'), interaction.state ?? undefined);
  }

  /**
   * The resource's sign-in policy refused the person: the interaction ends with `access_denied` (so no code can ever
   * come from it), recorded as `login.refused`. Returns the client redirect; null when nothing happened (see approve).
   */
  async refuseSignIn(interaction: InteractionEntity, resource: ResourceServerEntity, data: { provider: string; login: string | null; reason: string }, request?: RequestContext): Promise<string | null> {
    const written = await this.audit.recordWith(this.interactions.denial(interaction.id, null), [
      { type: 'login.refused', clientId: interaction.clientId, subject: null, resource: resource.resource, request, data },
    ]);
    if (written.events.length === 0) return null;
    return this.errorRedirect(interaction.redirectUri, new OAuthError('access_denied', 'the account used to sign in may not use this resource'), interaction.state ?? undefined);
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
