import { Inject, Injectable } from '@nestjs/common';
import { Lru } from '../common/lru.js';
import { sha256 } from '../common/crypto.js';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { KeyService, type VerificationKey } from '../keys/key.service.js';
import { signatureValid } from '../keys/signing-algorithms.js';
import type { AccessTokenClaims } from './access-token.issuer.js';
import { pickIdentityClaims } from '../resources/identity-claims.js';

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** A token whose signature checked out, and the key object that checked it. */
interface Verified {
  claims: Readonly<AccessTokenClaims>;
  kid: string;
  key: VerificationKey;
}

/**
 * Checks that a string is an access token Gatehouse signed: three base64url parts, header `typ` at+jwt with a kid
 * Gatehouse publishes and exactly that key's `alg`, a valid signature, and our issuer. Expiry is left to the caller
 * (revocation still wants expired tokens' claims; introspection does not). Never throws on bad input.
 *
 * Resource servers introspect the same token on every request they serve, so tokens that verified are remembered
 * (ACCESS_TOKEN_CACHE_ENTRIES, least recently used forgotten first), keyed by the token's SHA-256 so that live
 * bearer tokens are not kept in memory. The cache is a pure memo: a hit is honoured only while `verificationKey(kid)`
 * still returns the very key object that verified the token (a key deleted after its retention, or dropped and
 * published again as a new object, means verifying afresh), and only until the token's `exp`; past it
 * the token is verified again, so callers that want expired tokens' claims still get them. Failures are never
 * remembered: garbage must not push out live tokens, and it costs one failed verification, as without a cache.
 */
@Injectable()
export class AccessTokenVerifier {
  private readonly cache: Lru<string, Verified> | null;

  constructor(
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    private readonly keys: KeyService,
  ) {
    this.cache = config.accessTokenCacheEntries > 0 ? new Lru(config.accessTokenCacheEntries) : null;
  }

  /** The token's claims (frozen: cached ones are shared between callers), or null when it is not one of ours. */
  verify(token: string): Readonly<AccessTokenClaims> | null {
    if (token.length > 4096 || !JWT_SHAPE.test(token)) return null;
    if (!this.cache) return this.check(token)?.claims ?? null;
    const digest = sha256(token);
    const cached = this.cache.get(digest);
    if (cached) {
      if (cached.claims.exp * 1000 > Date.now() && this.keys.verificationKey(cached.kid) === cached.key) return cached.claims;
      this.cache.delete(digest);
    }
    const verified = this.check(token);
    // Not an expired one: its every read verifies again anyway.
    if (verified && verified.claims.exp * 1000 > Date.now()) this.cache.set(digest, verified);
    return verified?.claims ?? null;
  }

  /** The signature check itself; protected so that tests can count how often it runs. */
  protected checkSignature(signingInput: string, key: VerificationKey, signature: Buffer): boolean {
    return signatureValid(key.alg, key.key, Buffer.from(signingInput), signature);
  }

  /** The full verification, for a token of the right shape. */
  private check(token: string): Verified | null {
    const [headerPart, payloadPart, signaturePart] = token.split('.') as [string, string, string];
    const header = parseJson(headerPart);
    if (!header || header.typ !== 'at+jwt' || typeof header.kid !== 'string') return null;
    const key = this.keys.verificationKey(header.kid);
    // The key decides the algorithm; a header naming any other (none, HS256 keyed with the public key) is refused.
    if (!key || header.alg !== key.alg) return null;
    if (!this.checkSignature(`${headerPart}.${payloadPart}`, key, Buffer.from(signaturePart, 'base64url'))) return null;
    const claims = parseJson(payloadPart);
    if (!claims || claims.iss !== this.config.issuer) return null;
    const { sub, aud, client_id, scope, iat, exp, jti, grant_id } = claims;
    if (typeof sub !== 'string' || typeof aud !== 'string' || typeof client_id !== 'string' || typeof scope !== 'string') return null;
    if (typeof iat !== 'number' || typeof exp !== 'number' || typeof jti !== 'string' || typeof grant_id !== 'string') return null;
    const verified: AccessTokenClaims = { ...pickIdentityClaims(claims), iss: this.config.issuer, sub, aud, client_id, scope, iat, exp, jti, grant_id };
    // RFC 9449 §6.1: a DPoP-bound token's key, which introspection reports.
    const cnf = claims.cnf;
    if (typeof cnf === 'object' && cnf !== null && typeof (cnf as { jkt?: unknown }).jkt === 'string') verified.cnf = { jkt: (cnf as { jkt: string }).jkt };
    return { claims: Object.freeze(verified), kid: header.kid, key };
  }
}

function parseJson(part: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
