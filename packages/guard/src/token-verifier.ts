import { createHash } from 'node:crypto';
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { protectedResourceMetadataUrl } from './challenge.js';
import type { GatehouseGuardOptions } from './options.js';
import { ExpiringLru } from './lru.js';
import { DPOP_REPLAY_CACHE_ENTRIES } from './dpop.js';

/** What a guarded handler learns about its caller. */
export interface GatehouseAuth {
  /** Gatehouse's stable subject for the user. */
  sub: string;
  clientId: string;
  scopes: string[];
  /** The bearer token itself, e.g. to call Gatehouse's introspection. Never log it. */
  token: string;
  claims: JWTPayload;
}

/** The token is not acceptable: the message is safe to send back in `error_description`. */
export class TokenRejected extends Error {}

/** Gatehouse could not be reached (its JWKS, or its introspection): the guard answers 503 rather than guess. */
export class AuthorizationServerUnavailable extends Error {}

/**
 * Exactly the algorithms Gatehouse signs with (its SIGNING_ALG: ES256, RS256 or EdDSA over Ed25519). Never `none` or
 * HS*: a symmetric algorithm would let whoever holds the public JWKS forge tokens. A key is also used only for the
 * `alg` its JWK names, so a token cannot pick another algorithm for a published key.
 */
export const ALGORITHMS: readonly string[] = ['ES256', 'RS256', 'EdDSA'];

/**
 * Verifies Gatehouse access tokens locally against the issuer's JWKS: signature (asymmetric algorithms only),
 * `typ: at+jwt`, `iss`, `aud` = this resource (tokens minted for other servers are refused: no passthrough),
 * `exp`/`nbf` with a small skew. The JWKS is fetched lazily, cached, and refetched at most once per cool-down when
 * an unknown `kid` shows up. A verified token is remembered under its SHA-256 until it expires — or, with the
 * introspection check on, until its next check is due.
 *
 * Framework-free: build one per protected resource and keep it (it holds the key set and the verified tokens);
 * `verifyAccessToken()` and the Express middleware take it, and the NestJS module provides it as
 * `GatehouseTokenVerifier`.
 */
export class AccessTokenVerifier {
  /** The resource as the tokens' `aud` must name it (normalised by the URL parser). */
  readonly resource: string;
  /** The RFC 9728 metadata URL every challenge names. */
  readonly resourceMetadataUrl: string;
  private readonly jwks: ReturnType<typeof createRemoteJWKSet>;
  private readonly cache: ExpiringLru<GatehouseAuth>;
  /** The DPoP proofs (by key and `jti`) accepted within their window: in this process only. */
  readonly dpopReplay = new ExpiringLru<true>(DPOP_REPLAY_CACHE_ENTRIES);

  constructor(readonly options: GatehouseGuardOptions) {
    this.resource = new URL(options.resource).href;
    this.resourceMetadataUrl = protectedResourceMetadataUrl(options.resource);
    this.jwks = createRemoteJWKSet(new URL(options.jwksUri ?? `${options.issuer.replace(/\/$/, '')}/.well-known/jwks.json`), {
      cacheMaxAge: options.jwks?.cacheMaxAgeMs ?? 600_000,
      cooldownDuration: options.jwks?.cooldownMs ?? 30_000,
      timeoutDuration: options.jwks?.timeoutMs ?? 5_000,
    });
    this.cache = new ExpiringLru(options.cacheMaxEntries ?? 10_000);
  }

  async verify(token: string): Promise<GatehouseAuth> {
    const key = createHash('sha256').update(token).digest('base64url');
    const now = Date.now();
    const cached = this.cache.get(key, now);
    if (cached) return cached;

    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(token, this.keyFor, {
        issuer: this.options.issuer,
        audience: this.resource,
        typ: 'at+jwt',
        algorithms: [...ALGORITHMS],
        clockTolerance: this.options.clockToleranceSeconds ?? 5,
        requiredClaims: ['exp', 'iat', 'sub'],
      }));
    } catch (error) {
      if (error instanceof AuthorizationServerUnavailable) throw error;
      if (!(error instanceof errors.JOSEError)) throw unavailableKeys();
      throw new TokenRejected(describe(error));
    }
    const scope = typeof claims.scope === 'string' ? claims.scope : '';
    const clientId = typeof claims.client_id === 'string' ? claims.client_id : '';
    if (!claims.sub || !clientId) throw new TokenRejected('token lacks sub or client_id');
    const auth: GatehouseAuth = { sub: claims.sub, clientId, scopes: scope.split(' ').filter(Boolean), token, claims };

    let validUntil = (claims.exp ?? 0) * 1000;
    const revocation = this.options.revocation;
    if (revocation?.mode === 'introspect') {
      if (!(await this.introspect(token, revocation.registrationSecret))) throw new TokenRejected('token has been revoked');
      validUntil = Math.min(validUntil, now + (revocation.cacheTtlMs ?? 30_000));
    }
    if (validUntil > now) this.cache.set(key, auth, validUntil);
    return auth;
  }

  /**
   * The key for a token's header, from the remote JWKS. A kid the key set lacks is the token's problem (401); a JWKS
   * that cannot be fetched — unreachable, timed out, not 200, not JSON, not a key set — is Gatehouse's: 503, so
   * clients retry later. (jose reports a non-200 or unparsable JWKS as a plain JOSEError, like a malformed token.)
   */
  private readonly keyFor: JWTVerifyGetKey = async (header, token) => {
    try {
      return await this.jwks(header, token);
    } catch (error) {
      if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) throw error;
      throw unavailableKeys();
    }
  };

  private async introspect(token: string, registrationSecret: string): Promise<boolean> {
    let response: Response;
    try {
      response = await fetch(`${this.options.issuer.replace(/\/$/, '')}/introspect`, {
        method: 'POST',
        headers: { authorization: `Bearer ${registrationSecret}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
        signal: AbortSignal.timeout(this.options.jwks?.timeoutMs ?? 5_000),
      });
    } catch {
      throw new AuthorizationServerUnavailable('the authorization server could not be reached to check revocation');
    }
    if (!response.ok) throw new AuthorizationServerUnavailable(`the authorization server's introspection answered ${response.status}`);
    const body = (await response.json().catch(() => ({}))) as { active?: unknown };
    return body.active === true;
  }
}

function unavailableKeys(): AuthorizationServerUnavailable {
  return new AuthorizationServerUnavailable('the signing keys could not be fetched from the authorization server');
}

function describe(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'token has expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'aud') return 'token was issued for another resource';
    if (error.claim === 'iss') return 'token was issued by another authorization server';
    if (error.claim === 'nbf') return 'token is not yet valid';
    if (error.claim === 'typ') return 'token is not an access token (typ must be at+jwt)';
    return `token claim ${error.claim} is invalid`;
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return 'token algorithm is not allowed';
  if (error instanceof errors.JWKSNoMatchingKey) return 'token was signed with an unknown key';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'token signature is invalid';
  return 'token is malformed';
}
