import { Inject, Injectable, Logger } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import * as oidc from 'openid-client';
import { contextOf, type HttpRequest, type RequestContext } from '../common/http.js';
import { clearCookie, openCookieValue, readCookie, sealCookieValue, setCookie } from '../common/cookies.js';
import { safeEqual } from '../common/crypto.js';
import { BrowserError } from '../common/oauth-errors.js';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { EncryptionKeyMismatch, GATEHOUSE_SECRETS, type Secrets } from '../config/secrets.js';
import { Database } from '../database/database.module.js';
import { AuditLog } from '../audit/audit-log.js';
import type { IdentityProviderEntity } from '../identity-providers/identity-provider.entity.js';
import { IdentityProvidersService, oidcCallbackPath } from '../identity-providers/identity-providers.service.js';
import { PROVIDER_ID } from '../identity-providers/dto/identity-provider.dto.js';
import { parsePurpose, SignInService, type SignInPurpose, type SignInResult } from './sign-in.service.js';
import type { SignedInIdentity } from './signed-in-identity.js';

const STATE_COOKIE = 'gatehouse_oidc_state';
const COOKIE_PURPOSE = 'oidc-state';
const STATE_TTL_SECONDS = 600;

/** What the browser carries from the start of a sign-in to its callback, signed and scoped to that provider's callback. */
interface OidcState {
  provider: string;
  state: string;
  nonce: string;
  verifier: string;
  purpose: SignInPurpose;
  exp: number;
}

/** Why a sign-in through a provider failed, as `login.failed` records it (data.reason), with the page shown. */
type FailureReason = 'state_mismatch' | 'unknown_provider' | 'cancelled' | 'provider_error' | 'token_rejected' | 'id_token_invalid' | 'response_invalid';

class SignInFailure extends Error {
  constructor(
    readonly reason: FailureReason,
    readonly page: BrowserError,
  ) {
    super(reason);
  }
}

/**
 * Sign-in through an OpenID Connect provider configured with the admin API (openid-client): authorization code
 * with PKCE (S256), `state` and `nonce`, kept in a signed, HttpOnly cookie scoped to the provider's callback. The
 * ID token is validated by openid-client (signature from the provider's JWKS, issuer, audience, expiry, nonce).
 */
@Injectable()
export class OidcLogin {
  private readonly logger = new Logger('OidcLogin');

  constructor(
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    @Inject(GATEHOUSE_SECRETS) private readonly secrets: Secrets,
    private readonly providers: IdentityProvidersService,
    private readonly signInService: SignInService,
    private readonly database: Database,
    private readonly audit: AuditLog,
  ) {}

  /** The provider's display name, or a 404 page when no such provider is configured. */
  async displayName(providerId: string): Promise<string> {
    const provider = await this.providers.find(providerId);
    if (!provider) throw unknownProvider();
    return provider.displayName;
  }

  /** The provider's authorization URL for this sign-in; the state cookie is set on `res`. */
  async start(providerId: string, purpose: SignInPurpose, res: ServerResponse): Promise<string> {
    const provider = await this.providers.find(providerId);
    if (!provider) throw unknownProvider();
    const configuration = await this.providers.configuration(provider).catch((error: unknown) => {
      this.logger.warn({ msg: 'oidc discovery failed', provider: providerId, error: errorName(error) });
      throw unreachable(provider);
    });
    const verifier = oidc.randomPKCECodeVerifier();
    const payload: OidcState = {
      provider: provider.id,
      state: oidc.randomState(),
      nonce: oidc.randomNonce(),
      verifier,
      purpose,
      exp: Math.floor(Date.now() / 1000) + STATE_TTL_SECONDS,
    };
    const url = oidc.buildAuthorizationUrl(configuration, {
      redirect_uri: this.providers.redirectUri(provider.id),
      scope: provider.scopes.join(' '),
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: payload.state,
      nonce: payload.nonce,
    });
    setCookie(res, STATE_COOKIE, sealCookieValue(this.secrets.cookieKey, COOKIE_PURPOSE, payload), {
      secure: this.config.secureCookies,
      maxAgeSeconds: STATE_TTL_SECONDS,
      path: oidcCallbackPath(provider.id),
    });
    return url.href;
  }

  /**
   * The provider sent the browser back: the state cookie is used up, the code exchanged and the ID token checked,
   * then SignInService decides. Every failure is a page and a `login.failed` event.
   */
  async callback(providerId: string, req: HttpRequest, res: ServerResponse): Promise<SignInResult> {
    // Not a provider id at all: nothing to record (the audit log is not for strings anyone can put in a URL).
    if (!PROVIDER_ID.test(providerId)) throw unknownProvider();
    const cookie = openCookieValue<OidcState>(this.secrets.cookieKey, COOKIE_PURPOSE, readCookie(req, STATE_COOKIE));
    clearCookie(res, STATE_COOKIE, { secure: this.config.secureCookies, path: oidcCallbackPath(providerId) });
    const currentUrl = callbackUrl(this.providers.redirectUri(providerId), req);
    try {
      const { state, purpose } = checkedState(cookie, providerId, currentUrl);
      const provider = await this.providers.find(providerId);
      if (!provider) throw new SignInFailure('unknown_provider', unknownProvider());
      const identity = await this.exchange(provider, state, currentUrl);
      return await this.signInService.complete(identity, purpose, contextOf(req));
    } catch (error) {
      if (!(error instanceof SignInFailure)) throw error;
      await this.recordFailure(`oidc:${providerId}`, error.reason, contextOf(req));
      throw error.page;
    }
  }

  private async exchange(provider: IdentityProviderEntity, state: OidcState, currentUrl: URL): Promise<SignedInIdentity> {
    try {
      const configuration = await this.providers.configuration(provider);
      const tokens = await oidc.authorizationCodeGrant(configuration, currentUrl, {
        expectedState: state.state,
        expectedNonce: state.nonce,
        pkceCodeVerifier: state.verifier,
        idTokenExpected: true,
      });
      const claims = tokens.claims();
      if (!claims) throw new SignInFailure('id_token_invalid', notAccepted(provider));
      let extra: oidc.UserInfoResponse | null = null;
      if (lacksProfile(claims, provider.groupsClaim) && configuration.serverMetadata().userinfo_endpoint) {
        extra = await oidc.fetchUserInfo(configuration, tokens.access_token, claims.sub);
      }
      return identityFrom(provider, claims, extra);
    } catch (error) {
      if (error instanceof SignInFailure) throw error;
      const failure = classify(provider, error);
      this.logger.warn({ msg: 'oidc sign-in failed', provider: provider.id, reason: failure.reason, error: errorName(error) });
      throw failure;
    }
  }

  private async recordFailure(provider: string, reason: FailureReason, request: RequestContext | undefined): Promise<void> {
    // The person still gets the error page if the event cannot be written; the failure to record it is logged.
    await this.database
      .transaction((tx) => this.audit.record(tx, { type: 'login.failed', request, data: { provider, reason } }))
      .catch((failure: unknown) => this.logger.warn({ msg: 'login.failed not recorded' }, failure));
  }
}

/** The callback as the provider was told to call it (the issuer's URL), with the query the browser brought. */
function callbackUrl(redirectUri: string, req: HttpRequest): URL {
  const url = new URL(redirectUri);
  const target = req.url ?? '';
  const query = target.indexOf('?');
  if (query >= 0) url.search = target.slice(query);
  return url;
}

/** The cookie is this browser's, for this provider, fresh, and its state is the one the provider sent back. */
function checkedState(cookie: OidcState | undefined, providerId: string, url: URL): { state: OidcState; purpose: SignInPurpose } {
  const returned = url.searchParams.get('state');
  const purpose = cookie ? parsePurpose(cookie.purpose) : null;
  if (!cookie || !purpose || cookie.provider !== providerId || cookie.exp < Date.now() / 1000 || returned === null || !safeEqual(returned, cookie.state)) {
    throw new SignInFailure(
      'state_mismatch',
      new BrowserError(403, 'Sign-in not accepted', 'This sign-in did not start in this browser, or took too long. Return to the application and try again.'),
    );
  }
  return { state: cookie, purpose };
}

/** The ID token had no email, name, or groups (when a groups claim is configured): the userinfo endpoint may have them. */
function lacksProfile(claims: oidc.IDToken, groupsClaim: string | null): boolean {
  return typeof claims.email !== 'string' || typeof claims.name !== 'string' || (groupsClaim !== null && claims[groupsClaim] === undefined);
}

/** What the provider vouched for. An email and whether it is verified always come from the same source. */
export function identityFrom(provider: Pick<IdentityProviderEntity, 'id' | 'groupsClaim'>, claims: oidc.IDToken, userinfo: oidc.UserInfoResponse | null): SignedInIdentity {
  const fromToken = typeof claims.email === 'string';
  const source: Record<string, unknown> = fromToken || !userinfo ? claims : userinfo;
  const text = (name: string): string | null => {
    const value = claims[name] ?? userinfo?.[name];
    return typeof value === 'string' && value.length > 0 ? value : null;
  };
  const email = typeof source.email === 'string' && source.email.length > 0 ? source.email : null;
  return {
    provider: `oidc:${provider.id}`,
    subject: claims.sub,
    login: text('preferred_username'),
    name: text('name'),
    email,
    emailVerified: email !== null && source.email_verified === true,
    groups: provider.groupsClaim ? groupsFrom(claims[provider.groupsClaim] ?? userinfo?.[provider.groupsClaim]) : [],
    organizations: null,
  };
}

/** A groups claim is an array of strings or a single string; anything else counts as no groups. */
function groupsFrom(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((item): item is string => typeof item === 'string');
  return [];
}

function classify(provider: IdentityProviderEntity, error: unknown): SignInFailure {
  if (error instanceof oidc.AuthorizationResponseError) {
    return error.error === 'access_denied'
      ? new SignInFailure('cancelled', new BrowserError(400, 'Sign-in cancelled', `Sign-in with ${provider.displayName} was cancelled. Return to the application and try again.`))
      : new SignInFailure('provider_error', refusedBy(provider));
  }
  if (error instanceof oidc.ResponseBodyError) return new SignInFailure('token_rejected', refusedBy(provider));
  if (error instanceof oidc.ClientError) {
    return new SignInFailure(/JWT|JWS|JWK/.test(error.code ?? '') ? 'id_token_invalid' : 'response_invalid', notAccepted(provider));
  }
  return new SignInFailure('provider_error', unreachable(provider));
}

function errorName(error: unknown): string {
  // Says which key and what to do; it names no secret.
  if (error instanceof EncryptionKeyMismatch) return error.message;
  if (error instanceof oidc.ClientError) return `${error.code ?? 'ClientError'}: ${error.message}`;
  if (error instanceof oidc.ResponseBodyError || error instanceof oidc.AuthorizationResponseError) return error.error;
  return error instanceof Error ? error.name : 'unknown';
}

function unknownProvider(): BrowserError {
  return new BrowserError(404, 'Unknown sign-in provider', 'This sign-in provider is not configured on this server. Return to the application and try again.');
}

function unreachable(provider: IdentityProviderEntity): BrowserError {
  return new BrowserError(502, `${provider.displayName} sign-in failed`, `${provider.displayName} could not be reached. Return to the application and try again.`);
}

function refusedBy(provider: IdentityProviderEntity): BrowserError {
  return new BrowserError(502, `${provider.displayName} sign-in failed`, `${provider.displayName} refused the sign-in. Return to the application and try again.`);
}

function notAccepted(provider: IdentityProviderEntity): BrowserError {
  return new BrowserError(403, 'Sign-in not accepted', `What ${provider.displayName} sent back could not be verified. Return to the application and try again.`);
}
