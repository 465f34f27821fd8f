import { Inject, Injectable } from '@nestjs/common';
import type { RequestContext } from '../common/http.js';
import { randomUUID } from 'node:crypto';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { randomToken, sha256 } from '../common/crypto.js';
import { InvalidGrant, InvalidRequest, InvalidScope } from '../common/oauth-errors.js';
import { parseUrl } from '../common/urls.js';
import { AuditLog } from '../audit/audit-log.js';
import type { ClientEntity } from '../registration/client.entity.js';
import type { ResourceServerEntity } from '../resources/resource-server.entity.js';
import { CodeIssuer } from './code-issuer.js';
import { InteractionHandleRepository, type OfferedHandles, type PresentedConsent } from './interaction-handle.repository.js';
import type { InteractionEntity } from './interaction.entity.js';
import { loginReturnPath } from './browser-session.js';
import type { CompleteConsentDto, CompleteLoginDto } from './dto/complete.dto.js';

/** How long the product has to finish its login or consent page. */
const HANDLE_TTL_MS = 10 * 60_000;
const UNUSABLE = 'is unknown, expired, already used, or belongs to another resource server';

/**
 * Bring-your-own login and consent. Gatehouse sends the browser to the product's page with a single-use handle;
 * the product's backend completes it server to server with the resource server's registration secret, and gets
 * back the URL to send the browser on to. A completed login only ever counts in the browser that started the
 * interaction: the URL carries a single-use ticket, and the login is accepted only when the browser holding the
 * interaction's cookie brings it back (AuthorizationService.returnFromLogin). Whoever sends someone else the product's
 * login link gets nothing from their sign-in.
 */
@Injectable()
export class ProductCompletionService {
  constructor(
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    private readonly handles: InteractionHandleRepository,
    private readonly codes: CodeIssuer,
    private readonly audit: AuditLog,
  ) {}

  /**
   * Fresh login and consent handles, for the read of a browser's visit to store the one it turns out to need (see
   * InteractionHandleRepository.visit); the handles themselves are kept here, only their digests go to the database.
   */
  offerHandles(): { login: string; consent: string; offered: OfferedHandles } {
    const login = randomToken();
    const consent = randomToken();
    return { login, consent, offered: { loginHash: sha256(login), consentHash: sha256(consent), expiresAt: new Date(Date.now() + HANDLE_TTL_MS) } };
  }

  /**
   * A login handle for a new interaction (login_method `external`): its digest and expiry go into the interaction's
   * own INSERT, and the browser goes straight to the product's login page.
   */
  loginOnArrival(resource: ResourceServerEntity): { location: string; hash: string; expiresAt: Date } {
    const handle = randomToken();
    return { location: loginLocation(resource, handle), hash: sha256(handle), expiresAt: new Date(Date.now() + HANDLE_TTL_MS) };
  }

  /**
   * Where to send the browser to sign in on the product's page (login_method `external`): with `stored`, a handle
   * already stored for the interaction, otherwise a new one stored now.
   */
  async beginLogin(interaction: InteractionEntity, resource: ResourceServerEntity, stored: string | null = null): Promise<string> {
    const handle = stored ?? randomToken();
    if (stored === null) await this.handles.setExternalAuth(interaction.id, sha256(handle), new Date(Date.now() + HANDLE_TTL_MS));
    return loginLocation(resource, handle);
  }

  /**
   * One read, then one statement that completes the login, creates the user on a first sign-in and records the
   * event (no BEGIN/COMMIT). When that statement changes nothing, something changed since the read: read again,
   * which answers as a serial run would have (or, for an identity another sign-in just created, signs in as it).
   */
  async completeLogin(resource: ResourceServerEntity, input: CompleteLoginDto, request?: RequestContext): Promise<{ redirect_uri: string }> {
    const handleHash = sha256(input.external_auth_id);
    const subject = `${resource.id}:${input.user.id}`;
    // A second try is needed only when another sign-in created the identity after the read (the next read finds it).
    for (let attempt = 1; attempt <= 3; attempt++) {
      const presented = await this.handles.presentedLogin(handleHash, subject, input.user.id);
      const interaction = presented?.interaction;
      if (
        !interaction ||
        interaction.resourceId !== resource.id ||
        interaction.loginCompletedAt ||
        interaction.completedAt ||
        !interaction.externalAuthExpiresAt ||
        interaction.externalAuthExpiresAt.getTime() <= Date.now()
      ) {
        break;
      }
      const created = presented.identityUserId === null;
      // As for the mint API (MintService, where the argument is written down): a product subject first recorded
      // must not be a Gatehouse user's id, which is that user's `sub`.
      if (created && presented.subjectIsUserId) {
        throw new InvalidRequest('user.id is the id of a Gatehouse user; choose another id for this user');
      }
      if (presented.userDisabled) {
        this.audit.recordObservation({
          type: 'login.failed',
          subject: presented.identityUserId,
          clientId: interaction.clientId,
          resource: resource.resource,
          request,
          data: { provider: 'external', reason: 'user_disabled' },
        });
        throw new InvalidGrant('the user is disabled');
      }
      const userId = presented.identityUserId ?? randomUUID();
      const ticket = randomToken();
      const written = await this.audit.recordWith(
        this.handles.loginCompletion({
          interactionId: interaction.id,
          handleHash,
          userId,
          returnHash: sha256(ticket),
          create: created ? { subject, displayName: input.user.name ?? null } : null,
        }),
        [{ type: 'login.succeeded', subject: userId, clientId: interaction.clientId, resource: resource.resource, request, data: { provider: 'external', created } }],
      );
      if (written.events.length > 0) return { redirect_uri: `${this.config.issuer}${loginReturnPath(interaction.id, ticket)}` };
    }
    throw new InvalidGrant(`external_auth_id ${UNUSABLE}`);
  }

  /** Where to send the browser for the product's consent page, with what the page needs to show (`stored`: as for beginLogin). */
  async beginConsent(
    interaction: InteractionEntity,
    resource: ResourceServerEntity,
    client: ClientEntity,
    userId: string,
    productUserId: string | null,
    stored: string | null = null,
  ): Promise<string> {
    const handle = stored ?? randomToken();
    if (stored === null) await this.handles.setConsentHandle(interaction.id, sha256(handle), new Date(Date.now() + HANDLE_TTL_MS));
    const redirect = parseUrl(interaction.redirectUri);
    const location = new URL(resource.consentUri!);
    const details: Record<string, string> = {
      interaction_id: handle,
      user_id: productUserId ?? userId,
      client_id: client.id,
      client_name: client.metadata.client_name ?? client.id,
      redirect_host: redirect ? redirect.host || `${redirect.protocol}//` : interaction.redirectUri,
      scope: interaction.scopes.join(' '),
      resource: resource.resource,
    };
    for (const [key, value] of Object.entries(details)) location.searchParams.set(key, value);
    return location.href;
  }

  /**
   * One read, then one statement that completes the interaction and, on approval, records consent and issues the
   * code, with the events (no BEGIN/COMMIT). The statement checks again that the handle and user are still the
   * ones read; when it changes nothing, reading again gives the answer a serial run would have.
   */
  async completeConsent(resource: ResourceServerEntity, input: CompleteConsentDto, request?: RequestContext): Promise<{ redirect_uri: string }> {
    const handleHash = sha256(input.interaction_id);
    const { interaction, userId } = this.usableConsent(await this.handles.presentedConsent(handleHash, resource.id), resource, input);
    const guard = { consentHandleHash: handleHash, userId };
    let location: string | null;
    if (input.decision === 'deny') {
      location = await this.codes.deny(interaction, resource, userId, { guard, request });
    } else {
      const scopes = input.scopes === undefined ? interaction.scopes : [...new Set(input.scopes)];
      const extra = scopes.filter((scope) => !interaction.scopes.includes(scope));
      if (extra.length) throw new InvalidScope(`scopes must be a subset of the requested ones; not requested: ${extra.join(' ')}`);
      if (scopes.length === 0) throw new InvalidScope('approve at least one scope, or deny');
      // A product's login signed the person in as its own user; otherwise the exchange takes the identity used last.
      const identityProvider = resource.loginMethod === 'external' ? 'external' : null;
      location = await this.codes.approve(interaction, resource, userId, scopes, 'product', { guard, request, identityProvider });
    }
    if (location !== null) return { redirect_uri: location };
    this.usableConsent(await this.handles.presentedConsent(handleHash, resource.id), resource, input);
    // The handle still looks usable, so the interaction itself has expired: this is the product's JSON API, so it
    // is answered as an OAuth error, not the browser's expiry page.
    throw new InvalidGrant(`interaction_id ${UNUSABLE}`);
  }

  /** The interaction a consent handle names and its user, if the handle is usable by `resource` for `input.user_id`. */
  private usableConsent(presented: PresentedConsent | null, resource: ResourceServerEntity, input: CompleteConsentDto): { interaction: InteractionEntity; userId: string } {
    const interaction = presented?.interaction;
    if (
      !interaction ||
      interaction.resourceId !== resource.id ||
      interaction.completedAt ||
      !interaction.userId ||
      !interaction.consentHandleExpiresAt ||
      interaction.consentHandleExpiresAt.getTime() <= Date.now()
    ) {
      throw new InvalidGrant(`interaction_id ${UNUSABLE}`);
    }
    const expectedUser = resource.loginMethod === 'external' ? presented.externalSubject : interaction.userId;
    if (input.user_id !== expectedUser) throw new InvalidRequest('user_id is not the user this consent was shown to');
    return { interaction, userId: interaction.userId };
  }
}

function loginLocation(resource: ResourceServerEntity, handle: string): string {
  const location = new URL(resource.loginUri!);
  location.searchParams.set('external_auth_id', handle);
  return location.href;
}
