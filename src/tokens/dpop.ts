import { Injectable } from '@nestjs/common';
import { calculateJwkThumbprint, EmbeddedJWK, errors, jwtVerify, type JWK } from 'jose';
import { sha256 } from '../common/crypto.js';
import { InvalidDpopProof, UseDpopNonce } from '../common/oauth-errors.js';
import { DpopProofJtiRepository } from './dpop-proof-jti.repository.js';
import { DpopNonces } from './dpop-nonce.js';

/**
 * The proof algorithms accepted (and advertised as `dpop_signing_alg_values_supported`): asymmetric only, never
 * `none` or HMAC (RFC 9449 §4.3 items 4–5). RS256 and PS256 need a 2048-bit key at least (jose enforces it).
 */
export const DPOP_ALGS = ['ES256', 'RS256', 'PS256', 'EdDSA'] as const;
/** A proof is made for one request: its `iat` may be at most this far from the server's clock, either way. */
export const DPOP_IAT_WINDOW_SECONDS = 60;
const MAX_PROOF_LENGTH = 8192;
const MAX_JTI_LENGTH = 256;
const MAX_NONCE_LENGTH = 256;
/** Members only a private JWK has (RFC 7517 §9.2 and RFC 7518 §6): a proof must never carry one. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** What a valid proof establishes: the key (its RFC 7638 SHA-256 thumbprint) and the proof's own id and time. */
export interface DpopProof {
  jkt: string;
  jti: string;
  iat: number;
  /** The server nonce the proof carries (RFC 9449 §8), if any. */
  nonce?: string;
}

export interface DpopRequest {
  /** The HTTP method the request used (`htm`). */
  method: string;
  /** The URL the request was sent to (`htu`), without query and fragment. */
  url: string;
  /** The access token the request presents, for `ath` (RFC 9449 §4.3 item 11); absent at the token endpoint. */
  accessToken?: string;
  /** Seconds since the epoch; the clock of the tests. */
  now?: number;
}

/**
 * The `DPoP` header's one proof, or undefined when there is none. More than one (repeated headers, which Node joins
 * with commas, or a list) is refused: RFC 9449 §4.3 item 1.
 */
export function dpopHeader(value: string | string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value)) {
    if (value.length === 0) return undefined;
    if (value.length > 1) throw new InvalidDpopProof('more than one DPoP header');
    value = value[0] ?? '';
  }
  if (value.includes(',')) throw new InvalidDpopProof('more than one DPoP proof');
  return value.trim();
}

/**
 * RFC 9449 §4.3's checks of a proof, except the single use of its `jti` (the caller's: the token endpoint shares it
 * through the database): one well-formed JWS, `typ` dpop+jwt, an accepted asymmetric `alg`, a public `jwk` in the
 * header whose key made the signature, `htm` and `htu` those of the request (`htu` compared after RFC 3986
 * normalisation, without query and fragment), `iat` within the window, a `jti`, and `ath` when a token is presented.
 * Throws InvalidDpopProof naming the failed check.
 */
export async function checkDpopProof(proof: string, request: DpopRequest): Promise<DpopProof> {
  if (proof.length === 0 || proof.length > MAX_PROOF_LENGTH) throw new InvalidDpopProof(`the DPoP proof must be 1 to ${MAX_PROOF_LENGTH} characters`);
  const now = request.now ?? Math.floor(Date.now() / 1000);
  let verified: Awaited<ReturnType<typeof jwtVerify>>;
  try {
    verified = await jwtVerify(proof, EmbeddedJWK, {
      typ: 'dpop+jwt',
      algorithms: [...DPOP_ALGS],
      currentDate: new Date(now * 1000),
      requiredClaims: ['iat', 'jti', 'htm', 'htu'],
    });
  } catch (error) {
    throw new InvalidDpopProof(`the DPoP proof is invalid: ${reasonOf(error)}`);
  }
  const { payload, protectedHeader } = verified;
  const jwk = protectedHeader.jwk as JWK | undefined;
  if (!jwk || PRIVATE_MEMBERS.some((member) => member in jwk)) throw new InvalidDpopProof('the DPoP proof header must carry a public jwk and nothing private');
  if (payload.htm !== request.method) throw new InvalidDpopProof(`the DPoP proof's htm must be ${request.method}`);
  if (typeof payload.htu !== 'string' || normalisedUrl(payload.htu) !== normalisedUrl(request.url)) {
    throw new InvalidDpopProof(`the DPoP proof's htu must be ${normalisedUrl(request.url)}`);
  }
  const iat = payload.iat ?? Number.NaN;
  if (!(Math.abs(now - iat) <= DPOP_IAT_WINDOW_SECONDS)) throw new InvalidDpopProof(`the DPoP proof's iat must be within ${DPOP_IAT_WINDOW_SECONDS} seconds of now`);
  const jti = payload.jti;
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH) throw new InvalidDpopProof(`the DPoP proof's jti must be a string of 1 to ${MAX_JTI_LENGTH} characters`);
  const nonce = payload.nonce;
  if (nonce !== undefined && (typeof nonce !== 'string' || nonce.length === 0 || nonce.length > MAX_NONCE_LENGTH)) {
    throw new InvalidDpopProof(`the DPoP proof's nonce must be a string of 1 to ${MAX_NONCE_LENGTH} characters`);
  }
  if (request.accessToken !== undefined) {
    const ath = sha256(request.accessToken);
    if (payload.ath !== ath) throw new InvalidDpopProof("the DPoP proof's ath must be the SHA-256 hash of the access token");
  } else if (payload.ath !== undefined) {
    // Only proofs sent with an access token carry `ath`; one at the token endpoint was made for another request.
    throw new InvalidDpopProof('the DPoP proof carries ath but no access token is presented');
  }
  return { jkt: await calculateJwkThumbprint(jwk, 'sha256'), jti, iat, ...(nonce === undefined ? {} : { nonce }) };
}

/**
 * RFC 9449 §4.3 item 9: `htu` is compared without query and fragment after syntax-based normalisation (RFC 3986
 * §6.2.2: case of scheme and host, default port, percent-encoding case and dot segments), which the WHATWG URL
 * parser does. Anything that is no absolute http(s) URL normalises to nothing and matches nothing.
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
  if (error instanceof errors.JOSEAlgNotAllowed) return `alg must be one of ${DPOP_ALGS.join(', ')}`;
  if (error instanceof errors.JWTClaimValidationFailed) return `${error.claim} ${error.reason === 'missing' ? 'is missing' : 'is not valid'}`;
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'the signature does not verify with the jwk of its header';
  if (error instanceof errors.JOSEError) return error.message;
  return 'it is no JWS';
}

/**
 * The token endpoint's DPoP: the proof's checks (checkDpopProof against POST and the URL the request was sent to,
 * under the issuer), then, with DPOP_NONCE=required, its server nonce (else `use_dpop_nonce`, before the `jti` is
 * spent: the client retries with a new proof anyway), then its `jti` spent in the database, so that a proof is
 * accepted once across all instances while it could be accepted at all.
 */
@Injectable()
export class DpopProofVerifier {
  constructor(
    private readonly jtis: DpopProofJtiRepository,
    private readonly nonces: DpopNonces,
  ) {}

  /** `url`: the token endpoint's URL as the client called it (the issuer and the request's path). */
  async verify(proof: string, url: string): Promise<DpopProof> {
    const checked = await checkDpopProof(proof, { method: 'POST', url });
    if (this.nonces.required && !this.nonces.accepts(checked.nonce)) {
      throw new UseDpopNonce(
        checked.nonce === undefined ? 'the DPoP proof must carry the nonce of the DPoP-Nonce header' : "the DPoP proof's nonce is not current; use the DPoP-Nonce header's",
      );
    }
    // Remembered until no clock within the window could take the proof any more.
    const expiresAt = new Date((checked.iat + DPOP_IAT_WINDOW_SECONDS + 1) * 1000);
    if (!(await this.jtis.use(checked.jkt, checked.jti, expiresAt))) throw new InvalidDpopProof('the DPoP proof was already used (its jti was seen before)');
    return checked;
  }
}
