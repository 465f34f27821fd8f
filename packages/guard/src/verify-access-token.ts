import type { ServerResponse } from 'node:http';
import { bearerChallenge, dpopChallenge, type ChallengeParts } from './challenge.js';
import { checkDpopProof, DPOP_ALGORITHMS, DpopProofRejected, singleProof } from './dpop.js';
import { AccessTokenVerifier, AuthorizationServerUnavailable, TokenRejected, type GatehouseAuth } from './token-verifier.js';

/** RFC 6750 §2.1 and RFC 9449 §7.1: the scheme, one space, a token68. */
const AUTHORIZATION = /^(Bearer|DPoP) ([A-Za-z0-9\-._~+/]+=*)$/i;

/**
 * What the caller presented: the `Authorization` header's value as received (a `string[]` or `undefined` counts as
 * no token), or `{ token }` for a token that came some other way.
 */
export type AccessTokenCredentials = string | readonly string[] | undefined | { token: string };

/**
 * The HTTP request a token came with, against which a DPoP proof (RFC 9449) is checked: without it a DPoP-bound
 * token cannot be accepted. `url` is the absolute URL the client called — on the resource's origin, since the
 * guard's public URL is its `resource`'s (the Host header may have been rewritten by a proxy).
 */
export interface AccessTokenRequest {
  method: string;
  url: string;
  /** The `DPoP` header's value as received (`req.headers.dpop`). */
  dpop?: string | readonly string[];
}

export interface VerifyAccessTokenOptions {
  /** One per protected resource, kept for the life of the process: it caches the key set and verified tokens. */
  verifier: AccessTokenVerifier;
  /** Every one of these must be granted (default: the verifier's `requiredScopes`, else none). */
  requiredScopes?: readonly string[];
  request?: AccessTokenRequest;
}

/** The `error` of a refusal's JSON body; `unauthorized` is a request that sent no token (no RFC 6750 code, §3.1). */
export type GatehouseAuthErrorCode = 'unauthorized' | 'invalid_request' | 'invalid_token' | 'invalid_dpop_proof' | 'insufficient_scope' | 'temporarily_unavailable';

/**
 * A refusal, with everything needed to send it: `status`, `headers` (`WWW-Authenticate` per RFC 6750 §3 naming the
 * RFC 9728 metadata URL, `Cache-Control: no-store`) and the JSON `body`. A 503 (Gatehouse unreachable) carries no
 * challenge: the token is not at fault, and the client should retry, not re-authorize.
 */
export class GatehouseAuthError extends Error {
  override readonly name = 'GatehouseAuthError';

  constructor(
    readonly status: 400 | 401 | 403 | 503,
    readonly error: GatehouseAuthErrorCode,
    /** Safe to send back (`error_description`). */
    readonly description: string,
    /** The scopes the request needs, as the challenge names them (all of them, not only the missing ones). */
    readonly scope: readonly string[],
    /** The `WWW-Authenticate` value, absent on a 503. */
    readonly wwwAuthenticate: string | undefined,
  ) {
    super(description);
  }

  /** The response headers to set; `Access-Control-Expose-Headers` lets browser-based MCP clients read the challenge. */
  get headers(): Record<string, string> {
    const headers: Record<string, string> = { 'Cache-Control': 'no-store' };
    if (this.wwwAuthenticate) {
      headers['WWW-Authenticate'] = this.wwwAuthenticate;
      headers['Access-Control-Expose-Headers'] = 'WWW-Authenticate';
    }
    return headers;
  }

  get body(): { error: GatehouseAuthErrorCode; error_description: string } {
    return { error: this.error, error_description: this.description };
  }
}

/**
 * Verifies the access token a request presents, with the rules of the NestJS guard (which calls this): a bearer
 * token, or a DPoP-bound one with `Authorization: DPoP` and a proof checked against `request` (RFC 9449), valid for
 * this resource (signature, `typ: at+jwt`, `iss`, `aud`, expiry, revocation when configured), carrying every
 * required scope. Resolves to the caller; rejects with a `GatehouseAuthError` to send as it is.
 *
 * ```ts
 * const verifier = new AccessTokenVerifier({ issuer, resource });  // once, at startup
 * const auth = await verifyAccessToken(req.headers.authorization, { verifier, requiredScopes: ['notes:read'] });
 * ```
 */
export function verifyAccessToken(credentials: AccessTokenCredentials, options: VerifyAccessTokenOptions): Promise<GatehouseAuth> {
  const { verifier } = options;
  const required = options.requiredScopes ?? verifier.options.requiredScopes ?? [];
  return authorize(credentials, required, verifier.resourceMetadataUrl, (token) => verifier.verify(token), dpopCheck(verifier, options.request));
}

/** Checks a DPoP-bound token's proof; throws DpopProofRejected. */
export type DpopCheck = (token: string, jkt: string) => Promise<void>;

/** The proof check for a request, or undefined when the caller did not say what the request was. */
export function dpopCheck(verifier: AccessTokenVerifier, request: AccessTokenRequest | undefined): DpopCheck | undefined {
  return request ? requestDpopCheck(verifier, request) : undefined;
}

export function requestDpopCheck(verifier: AccessTokenVerifier, request: AccessTokenRequest): DpopCheck {
  return async (token, jkt) =>
    checkDpopProof(singleProof(request.dpop), { method: request.method.toUpperCase(), url: request.url, accessToken: token, jkt }, verifier.dpopReplay);
}

/**
 * The rules themselves, with the verification step passed in (the Nest guard reuses a verification already done
 * for the same request). Not exported from the package.
 */
export async function authorize(
  credentials: AccessTokenCredentials,
  required: readonly string[],
  resourceMetadata: string,
  verify: (token: string) => Promise<GatehouseAuth>,
  checkProof?: DpopCheck,
): Promise<GatehouseAuth> {
  let dpop = false;
  // A request that used the DPoP scheme is answered with a DPoP challenge (RFC 9449 §7.1), any other with Bearer.
  const refuse = (status: 400 | 401 | 403, error: GatehouseAuthErrorCode, description: string, challenge: Omit<ChallengeParts, 'resourceMetadata' | 'scope'>) => {
    const parts = { ...challenge, scope: [...required], resourceMetadata };
    return new GatehouseAuthError(status, error, description, required, dpop ? dpopChallenge(parts, DPOP_ALGORITHMS) : bearerChallenge(parts));
  };

  let token: string | undefined;
  if (typeof credentials === 'object' && credentials !== null && 'token' in credentials) {
    token = credentials.token;
    if (!token) throw refuse(401, 'unauthorized', 'a bearer token is required', {});
  } else {
    const header = typeof credentials === 'string' ? credentials : undefined;
    // No header, or another scheme (Basic, …): a challenge without an error code.
    if (!header || !/^(Bearer|DPoP)\s/i.test(header)) throw refuse(401, 'unauthorized', 'a bearer token is required', {});
    dpop = /^DPoP\s/i.test(header);
    token = AUTHORIZATION.exec(header.trim())?.[2];
    if (!token) throw refuse(400, 'invalid_request', 'malformed Authorization header', { error: 'invalid_request' });
  }

  let auth: GatehouseAuth;
  try {
    auth = await verify(token);
  } catch (error) {
    if (error instanceof TokenRejected) throw refuse(401, 'invalid_token', error.message, { error: 'invalid_token', errorDescription: error.message });
    if (error instanceof AuthorizationServerUnavailable) throw new GatehouseAuthError(503, 'temporarily_unavailable', error.message, required, undefined);
    throw error;
  }
  const cnf = auth.claims.cnf as { jkt?: unknown } | undefined;
  if (dpop) {
    // RFC 9449 §7.1: the DPoP scheme is for DPoP-bound tokens, each with its proof made for this request.
    if (typeof cnf?.jkt !== 'string') {
      const description = 'token is not bound to a DPoP key: send it with the Bearer scheme';
      throw refuse(401, 'invalid_token', description, { error: 'invalid_token', errorDescription: description });
    }
    const invalidProof = (description: string) => refuse(401, 'invalid_dpop_proof', description, { error: 'invalid_dpop_proof', errorDescription: description });
    if (!checkProof) throw invalidProof('this server cannot check DPoP proofs: it was not told the request (verifyAccessToken `request`)');
    try {
      await checkProof(token, cnf.jkt);
    } catch (error) {
      if (error instanceof DpopProofRejected) throw invalidProof(error.message);
      throw error;
    }
  } else if (cnf !== undefined) {
    // A key-bound token (RFC 9449 `cnf`) is worthless without its proof, so it is never good as a bearer token.
    const description = 'token is bound to a key (DPoP) and cannot be used as a bearer token';
    throw refuse(401, 'invalid_token', description, { error: 'invalid_token', errorDescription: description });
  }
  const missing = required.filter((scope) => !auth.scopes.includes(scope));
  if (missing.length) {
    const description = `this request needs scope ${missing.join(' ')}`;
    throw refuse(403, 'insufficient_scope', description, { error: 'insufficient_scope', errorDescription: description });
  }
  return auth;
}

/** Writes a refusal to a plain Node response: status, challenge, `no-store`, and the JSON body. */
export function sendAuthError(res: ServerResponse, error: GatehouseAuthError): void {
  res.statusCode = error.status;
  for (const [name, value] of Object.entries(error.headers)) {
    // Appended, not set: a CORS layer before this one may expose headers of its own (e.g. Mcp-Session-Id).
    if (name === 'Access-Control-Expose-Headers') res.appendHeader(name, value);
    else res.setHeader(name, value);
  }
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(error.body));
}
