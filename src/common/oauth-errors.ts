import type { PageBrand } from './html.js';

/**
 * Every error a client can see is one of these codes (RFC 6749 §4.1.2.1 and §5.2, RFC 6750 §3.1, RFC 7591 §3.2.2,
 * RFC 8707 §2). Anything else that goes wrong is rendered as `server_error` with a request id and nothing more.
 */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'unsupported_response_type'
  | 'invalid_scope'
  | 'invalid_target'
  | 'access_denied'
  | 'invalid_redirect_uri'
  | 'invalid_client_metadata'
  | 'invalid_token'
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce'
  | 'insufficient_scope'
  | 'not_found'
  | 'method_not_allowed'
  | 'request_too_large'
  | 'too_many_requests'
  | 'server_error'
  | 'temporarily_unavailable';

export function statusOf(code: OAuthErrorCode): number {
  switch (code) {
    case 'invalid_client':
    case 'invalid_token':
      return 401;
    case 'insufficient_scope':
    case 'access_denied':
      return 403;
    case 'not_found':
      return 404;
    case 'method_not_allowed':
      return 405;
    case 'request_too_large':
      return 413;
    case 'too_many_requests':
      return 429;
    case 'server_error':
      return 500;
    case 'temporarily_unavailable':
      return 503;
    case 'invalid_request':
    case 'invalid_grant':
    case 'unauthorized_client':
    case 'unsupported_grant_type':
    case 'unsupported_response_type':
    case 'invalid_scope':
    case 'invalid_target':
    case 'invalid_redirect_uri':
    case 'invalid_client_metadata':
    case 'invalid_dpop_proof':
    case 'use_dpop_nonce':
      return 400;
    default:
      return assertUnreachable(code);
  }
}

export function assertUnreachable(value: never): never {
  throw new Error(`unreachable: ${String(value)}`);
}

export class OAuthError extends Error {
  /** Set on 401s that must carry a challenge (client_secret_basic failures, bearer failures). */
  wwwAuthenticate?: string;
  /** Where an RFC names a status other than the code's usual one (e.g. a 400 invalid_client for a named client_id). */
  private statusOverride?: number;

  constructor(
    readonly code: OAuthErrorCode,
    readonly description: string,
  ) {
    super(`${code}: ${description}`);
    this.name = 'OAuthError';
  }

  get status(): number {
    return this.statusOverride ?? statusOf(this.code);
  }

  withStatus(status: number): this {
    this.statusOverride = status;
    return this;
  }

  withChallenge(challenge: string): this {
    this.wwwAuthenticate = challenge;
    return this;
  }
}

export class InvalidRequest extends OAuthError {
  constructor(description: string) {
    super('invalid_request', description);
  }
}
/** RFC 9449 §5: a DPoP proof at the token endpoint that is missing where required, malformed or fails a check. */
export class InvalidDpopProof extends OAuthError {
  constructor(description: string) {
    super('invalid_dpop_proof', description);
  }
}
/**
 * RFC 9449 §8: the token endpoint wants a DPoP proof carrying the server nonce it sends in the answer's `DPoP-Nonce`
 * header (with DPOP_NONCE=required): the proof had none, or one that is not current.
 */
export class UseDpopNonce extends OAuthError {
  constructor(description: string) {
    super('use_dpop_nonce', description);
  }
}
export class InvalidClient extends OAuthError {
  constructor(description = 'client authentication failed') {
    super('invalid_client', description);
  }
}
export class InvalidGrant extends OAuthError {
  constructor(description: string) {
    super('invalid_grant', description);
  }
}
export class UnauthorizedClient extends OAuthError {
  constructor(description: string) {
    super('unauthorized_client', description);
  }
}
export class UnsupportedGrantType extends OAuthError {
  constructor(description: string) {
    super('unsupported_grant_type', description);
  }
}
export class UnsupportedResponseType extends OAuthError {
  constructor(description: string) {
    super('unsupported_response_type', description);
  }
}
export class InvalidScope extends OAuthError {
  constructor(description: string) {
    super('invalid_scope', description);
  }
}
export class InvalidTarget extends OAuthError {
  constructor(description: string) {
    super('invalid_target', description);
  }
}
export class AccessDenied extends OAuthError {
  constructor(description: string) {
    super('access_denied', description);
  }
}
export class InvalidRedirectUri extends OAuthError {
  constructor(description: string) {
    super('invalid_redirect_uri', description);
  }
}
export class InvalidClientMetadata extends OAuthError {
  constructor(description: string) {
    super('invalid_client_metadata', description);
  }
}
export class InvalidToken extends OAuthError {
  constructor(description: string) {
    super('invalid_token', description);
  }
}
export class NotFound extends OAuthError {
  constructor(description = 'not found') {
    super('not_found', description);
  }
}
export class RequestTooLarge extends OAuthError {
  constructor(limit: number) {
    super('request_too_large', `request body exceeds ${limit} bytes`);
  }
}

/**
 * An error shown to a person in the browser as an HTML page, never as a redirect: used where redirecting would be
 * unsafe (unknown client, unregistered redirect URI) or where there is nowhere to redirect to.
 */
/**
 * Over a rate limit. OAuth defines no code for it; `too_many_requests` is what the MCP SDK's own servers send and
 * what its client maps to a typed error. `Retry-After` says when the budget is back.
 */
export class TooManyRequests extends OAuthError {
  constructor(readonly retryAfterSeconds: number) {
    super('too_many_requests', `rate limit exceeded; retry after ${retryAfterSeconds} s`);
  }
}

/**
 * A dependency Gatehouse cannot serve without (the database) is out of reach for now: RFC 6749's
 * `temporarily_unavailable`, as 503 with `Retry-After`, so clients and MCP servers retry instead of giving up.
 */
export class TemporarilyUnavailable extends OAuthError {
  constructor(
    description: string,
    readonly retryAfterSeconds: number,
  ) {
    super('temporarily_unavailable', description);
  }
}

export class BrowserError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    /** The resource server the page is for, when known: its page carries that brand instead of Gatehouse's. */
    readonly brand?: PageBrand,
  ) {
    super(`${title}: ${detail}`);
    this.name = 'BrowserError';
  }
}
