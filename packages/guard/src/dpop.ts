import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, EmbeddedJWK, errors, jwtVerify, type JWK } from 'jose';
import { ExpiringLru } from './lru.js';

/**
 * The DPoP proof algorithms accepted (RFC 9449): asymmetric only, never `none` or HMAC — the ones Gatehouse's token
 * endpoint accepts (its `dpop_signing_alg_values_supported`), named in every DPoP challenge's `algs`.
 */
export const DPOP_ALGORITHMS: readonly string[] = ['ES256', 'RS256', 'PS256', 'EdDSA'];
/** A proof is made for one request: its `iat` may be at most this far from the server's clock, either way. */
export const DPOP_IAT_WINDOW_SECONDS = 60;
/**
 * Proof `jti`s remembered per verifier. An entry lives only for the `iat` window, so this many proofs a minute
 * are caught as replays; beyond it the oldest are forgotten first.
 */
export const DPOP_REPLAY_CACHE_ENTRIES = 100_000;
const MAX_PROOF_LENGTH = 8192;
const MAX_JTI_LENGTH = 256;
/** Members only a private JWK has (RFC 7517, RFC 7518 §6): a proof must never carry one. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** The proof is not acceptable: the message is safe to send back in `error_description`. */
export class DpopProofRejected extends Error {}

export interface DpopProofRequest {
  /** The request's method (`htm`). */
  method: string;
  /** The request's absolute URL (`htu`; query and fragment are ignored). */
  url: string;
  /** The access token the request presents (`ath`). */
  accessToken: string;
  /** The thumbprint the token's `cnf.jkt` names: the proof's key must be that key. */
  jkt: string;
}

/** The `DPoP` header's one proof; refused when absent or when there is more than one (RFC 9449 §4.3 item 1). */
export function singleProof(value: string | readonly string[] | undefined): string {
  const values = value === undefined ? [] : typeof value === 'string' ? [value] : value;
  if (values.length === 0 || values[0] === '') throw new DpopProofRejected('a DPoP proof is required with a DPoP-bound token');
  if (values.length > 1 || values[0]!.includes(',')) throw new DpopProofRejected('more than one DPoP proof');
  return values[0]!.trim();
}

/**
 * RFC 9449 §4.3 and §7.1's checks of a proof sent with a DPoP-bound access token: one well-formed JWS, `typ`
 * dpop+jwt, an accepted asymmetric `alg`, a public `jwk` in the header whose key made the signature and whose
 * thumbprint is the token's `cnf.jkt`, `htm` and `htu` those of the request (`htu` after RFC 3986 normalisation,
 * without query and fragment), `iat` within the window, `ath` the token's hash, and a `jti` not seen before in the
 * window by this verifier (`replay`: in memory, so instances behind one load balancer do not share it).
 */
export async function checkDpopProof(proof: string, request: DpopProofRequest, replay: ExpiringLru<true>, now = Math.floor(Date.now() / 1000)): Promise<void> {
  if (proof.length > MAX_PROOF_LENGTH) throw new DpopProofRejected(`the DPoP proof must be at most ${MAX_PROOF_LENGTH} characters`);
  let verified: Awaited<ReturnType<typeof jwtVerify>>;
  try {
    verified = await jwtVerify(proof, EmbeddedJWK, {
      typ: 'dpop+jwt',
      algorithms: [...DPOP_ALGORITHMS],
      currentDate: new Date(now * 1000),
      requiredClaims: ['iat', 'jti', 'htm', 'htu', 'ath'],
    });
  } catch (error) {
    throw new DpopProofRejected(`the DPoP proof is invalid: ${reasonOf(error)}`);
  }
  const { payload, protectedHeader } = verified;
  const jwk = protectedHeader.jwk as JWK | undefined;
  if (!jwk || PRIVATE_MEMBERS.some((member) => member in jwk)) throw new DpopProofRejected('the DPoP proof header must carry a public jwk and nothing private');
  if (payload.htm !== request.method) throw new DpopProofRejected(`the DPoP proof's htm must be ${request.method}`);
  const expected = normalisedUrl(request.url);
  if (typeof payload.htu !== 'string' || expected === null || normalisedUrl(payload.htu) !== expected) throw new DpopProofRejected(`the DPoP proof's htu must be ${expected ?? 'this URL'}`);
  const iat = payload.iat ?? Number.NaN;
  if (!(Math.abs(now - iat) <= DPOP_IAT_WINDOW_SECONDS)) throw new DpopProofRejected(`the DPoP proof's iat must be within ${DPOP_IAT_WINDOW_SECONDS} seconds of now`);
  const jti = payload.jti;
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH) throw new DpopProofRejected(`the DPoP proof's jti must be a string of 1 to ${MAX_JTI_LENGTH} characters`);
  if (payload.ath !== createHash('sha256').update(request.accessToken).digest('base64url')) throw new DpopProofRejected("the DPoP proof's ath must be the SHA-256 hash of the access token");
  if ((await calculateJwkThumbprint(jwk, 'sha256')) !== request.jkt) throw new DpopProofRejected('the DPoP proof is not signed with the key the token is bound to');
  // Spent last, once everything else holds: a refused proof spends nothing.
  const key = `${request.jkt}:${jti}`;
  if (replay.get(key, now * 1000) !== undefined) throw new DpopProofRejected('the DPoP proof was already used (its jti was seen before)');
  replay.set(key, true, (iat + DPOP_IAT_WINDOW_SECONDS + 1) * 1000);
}

/**
 * RFC 9449 §4.3 item 9: `htu` is compared without query and fragment after syntax-based normalisation (RFC 3986
 * §6.2.2: case of scheme and host, default port, percent-encoding case, dot segments), as the URL parser does.
 */
export function normalisedUrl(value: string): string | null {
  try {
    const url = new URL(value);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return null;
    url.search = '';
    url.hash = '';
    url.pathname = url.pathname.replace(/%[0-9a-f]{2}/gi, (escape) => escape.toUpperCase());
    return url.href;
  } catch {
    return null;
  }
}

function reasonOf(error: unknown): string {
  if (error instanceof errors.JOSEAlgNotAllowed) return `alg must be one of ${DPOP_ALGORITHMS.join(', ')}`;
  if (error instanceof errors.JWTClaimValidationFailed) return `${error.claim} ${error.reason === 'missing' ? 'is missing' : 'is not valid'}`;
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'the signature does not verify with the jwk of its header';
  if (error instanceof errors.JOSEError) return error.message;
  return 'it is no JWS';
}
