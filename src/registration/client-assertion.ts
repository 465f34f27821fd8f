import { Inject, Injectable } from '@nestjs/common';
import { decodeJwt, decodeProtectedHeader, importJWK, jwtVerify, type CryptoKey, type JWTPayload } from 'jose';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import type { ClientEntity } from './client.entity.js';
import { ClientAssertionJtiRepository } from './client-assertion-jti.repository.js';
import { ClientKeySets, ClientKeysUnavailable } from './client-key-sets.js';
import { algorithmsForKey, CLIENT_ASSERTION_ALGS, type ClientAssertionAlg, type ClientJwk, type ClientJwks } from './client-keys.js';

/** RFC 7523 §2.2: the only client assertion type Gatehouse takes. */
export const JWT_BEARER_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

const MAX_ASSERTION_LENGTH = 8192;
/** An assertion is made for one request: it may not be valid for longer than this from now. */
const MAX_LIFETIME_SECONDS = 300;
/** Tolerance for the clocks of client and server on `exp`, `nbf` and `iat`. */
const CLOCK_SKEW_SECONDS = 30;
const MAX_JTI_LENGTH = 256;
/** `typ` values that say the JWT is something else (an access token, a DPoP proof, …) are refused; these are not. */
const ACCEPTED_TYPES = new Set(['jwt', 'client-authentication+jwt']);

/**
 * Why an assertion was refused. Only the operator learns it (logged under the request id); the caller gets the same
 * `invalid_client` whatever it was, so that probing cannot tell a wrong key from a wrong audience or a replay.
 */
export class ClientAssertionRejected extends Error {
  constructor(
    readonly reason: string,
    readonly description: string,
    readonly detail: Record<string, string> = {},
  ) {
    super(`${reason}: ${description}`);
    this.name = 'ClientAssertionRejected';
  }
}

/** The client an assertion names (`sub`, which must equal `iss`), read without verifying anything; null if unreadable. */
export function assertionSubject(assertion: string): string | null {
  try {
    const { sub } = decodeJwt(assertion);
    return typeof sub === 'string' && sub.length > 0 ? sub : null;
  } catch {
    return null;
  }
}

/**
 * Verifies `private_key_jwt` client assertions (RFC 7523 §3, OIDC Core §9, RFC 7521 §4.2): signed with one of the
 * client's keys by an accepted algorithm (CLIENT_ASSERTION_ALGS: never `none` or HMAC); `iss` and `sub` the
 * client_id; `aud` the issuer identifier or the URL of the endpoint being called (draft-ietf-oauth-rfc7523bis asks
 * for the issuer; RFC 7523 and most clients today use the token endpoint URL); `exp` present and at most five
 * minutes ahead; `nbf` and `iat`, if present, not in the future; and `jti` present and never used before by this
 * client while the assertion is valid, across all instances (the client_assertion_jtis table).
 */
@Injectable()
export class ClientAssertionVerifier {
  private readonly issuer: string;
  /** Imported keys, by the (cached, long-lived) JWK object they come from and the algorithm. */
  private readonly imported = new WeakMap<ClientJwk, Map<ClientAssertionAlg, Promise<CryptoKey>>>();

  constructor(
    @Inject(GATEHOUSE_CONFIG) config: GatehouseConfig,
    private readonly keySets: ClientKeySets,
    private readonly jtis: ClientAssertionJtiRepository,
  ) {
    this.issuer = config.issuer;
  }

  /** `endpoint`: the URL the request was sent to (an accepted audience). Throws ClientAssertionRejected. */
  async verify(client: ClientEntity, assertion: string, endpoint: string): Promise<void> {
    if (assertion.length > MAX_ASSERTION_LENGTH) throw new ClientAssertionRejected('malformed', `the assertion is longer than ${MAX_ASSERTION_LENGTH} characters`);
    let header;
    try {
      header = decodeProtectedHeader(assertion);
    } catch {
      throw new ClientAssertionRejected('malformed', 'the assertion is not a JWS in compact serialization');
    }
    const alg = header.alg;
    if (typeof alg !== 'string' || !(CLIENT_ASSERTION_ALGS as readonly string[]).includes(alg)) {
      throw new ClientAssertionRejected('alg_not_allowed', `the assertion is signed with ${String(alg)}, not one of ${CLIENT_ASSERTION_ALGS.join(', ')}`);
    }
    if (header.typ !== undefined && !ACCEPTED_TYPES.has(header.typ.toLowerCase())) {
      throw new ClientAssertionRejected('wrong_type', `the assertion's typ is ${header.typ}, which names another kind of JWT`);
    }
    const kid = typeof header.kid === 'string' ? header.kid : undefined;
    let keys;
    try {
      keys = await this.keySets.keysOf(client.metadata);
    } catch (error) {
      if (error instanceof ClientKeysUnavailable) throw new ClientAssertionRejected(error.reason, error.description, error.detail);
      throw error;
    }
    let payload = await this.verifyWith(keys.jwks, assertion, alg as ClientAssertionAlg, kid, client.id, endpoint);
    if (payload === null && keys.uri !== null) {
      // Signed with a key the cached set lacks: the client may have rotated its keys since the set was fetched.
      let refetched: ClientJwks | null;
      try {
        refetched = await this.keySets.refetched(keys.uri);
      } catch (error) {
        if (error instanceof ClientKeysUnavailable) throw new ClientAssertionRejected(error.reason, error.description, error.detail);
        throw error;
      }
      if (refetched) payload = await this.verifyWith(refetched, assertion, alg as ClientAssertionAlg, kid, client.id, endpoint);
    }
    if (payload === null) {
      throw new ClientAssertionRejected('no_matching_key', kid === undefined ? 'no key of the client verifies the signature' : `the client has no key with kid ${kid} that verifies the signature`);
    }
    await this.spend(client.id, payload);
  }

  /**
   * The verified claims, or null when no key of `jwks` verifies the signature: the candidates are the keys with the
   * assertion's kid (all keys if it names none) that can be used with its alg.
   */
  private async verifyWith(jwks: ClientJwks, assertion: string, alg: ClientAssertionAlg, kid: string | undefined, clientId: string, endpoint: string): Promise<JWTPayload | null> {
    const candidates = jwks.keys.filter((jwk) => (kid === undefined || jwk.kid === kid) && algorithmsForKey(jwk).includes(alg));
    for (const jwk of candidates) {
      let key: CryptoKey;
      try {
        key = await this.importKey(jwk, alg);
      } catch {
        continue;
      }
      try {
        const { payload } = await jwtVerify(assertion, key, {
          algorithms: [alg],
          issuer: clientId,
          subject: clientId,
          audience: [this.issuer, endpoint],
          clockTolerance: CLOCK_SKEW_SECONDS,
          requiredClaims: ['exp', 'jti'],
        });
        return payload;
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') continue;
        throw claimsRejection(error);
      }
    }
    return null;
  }

  private importKey(jwk: ClientJwk, alg: ClientAssertionAlg): Promise<CryptoKey> {
    let byAlg = this.imported.get(jwk);
    if (!byAlg) this.imported.set(jwk, (byAlg = new Map()));
    let key = byAlg.get(alg);
    if (!key) {
      key = importJWK({ ...jwk, alg }, alg) as Promise<CryptoKey>;
      key.catch(() => byAlg.delete(alg));
      byAlg.set(alg, key);
    }
    return key;
  }

  /** The claims jose does not check, then the single use of the jti. */
  private async spend(clientId: string, payload: JWTPayload): Promise<void> {
    const now = Math.floor(Date.now() / 1000);
    const exp = payload.exp!;
    if (exp > now + MAX_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS) {
      throw new ClientAssertionRejected('lifetime_too_long', `the assertion expires ${exp - now} s from now; at most ${MAX_LIFETIME_SECONDS} s is accepted`);
    }
    if (payload.iat !== undefined && payload.iat > now + CLOCK_SKEW_SECONDS) throw new ClientAssertionRejected('claim_iat', 'the assertion was issued in the future (iat)');
    const jti = payload.jti;
    if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH || /\u0000/.test(jti)) {
      throw new ClientAssertionRejected('claim_jti', `jti must be a string of 1 to ${MAX_JTI_LENGTH} characters`);
    }
    // Kept until the assertion expires, skew included: until then the signature alone would still accept it.
    if (!(await this.jtis.use(clientId, jti, new Date((exp + CLOCK_SKEW_SECONDS) * 1000)))) {
      throw new ClientAssertionRejected('replayed', 'the assertion was already used (its jti was seen before)', { jti });
    }
  }
}

/** jose's refusal of a validly signed assertion, as a reason the operator can read. */
function claimsRejection(error: unknown): ClientAssertionRejected {
  const { code, claim, reason, message } = error as { code?: string; claim?: string; reason?: string; message?: string };
  if (code === 'ERR_JWT_EXPIRED') return new ClientAssertionRejected('expired', 'the assertion has expired (exp)');
  if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED') {
    return new ClientAssertionRejected(`claim_${claim ?? 'unknown'}`, `the assertion's ${claim ?? 'claims'} failed the check (${reason ?? message ?? 'invalid'})`);
  }
  return new ClientAssertionRejected('malformed', `the assertion could not be verified (${code ?? 'unknown error'})`);
}
