/**
 * gatehouse-client — server-side helpers for products that use Gatehouse: mint tokens for users the product has
 * already signed in, refresh, revoke and introspect them. No dependencies: it uses the platform's `fetch`.
 * It imports nothing from the rest of Gatehouse, so it can be used from any Node.js 20+ backend.
 */

export interface GatehouseOptions {
  /** Gatehouse's issuer URL, e.g. `https://auth.example.com`. */
  baseUrl: string | URL;
  /** Defaults to the global `fetch`. */
  fetch?: typeof fetch;
}

export interface TokenSet {
  accessToken: string;
  tokenType: 'Bearer';
  /** Seconds until the access token expires. */
  expiresIn: number;
  /** Present when the client is registered for the refresh_token grant. */
  refreshToken?: string;
  scope: string;
}

export type IntrospectionResult =
  | { active: false }
  | {
      active: true;
      scope: string;
      clientId: string;
      sub: string;
      aud: string;
      iss: string;
      exp: number;
      iat: number;
      jti?: string;
      tokenType: 'Bearer' | 'refresh_token';
      /** The identity claims the resource server opted into (empty when none): who the person is, beyond `sub`. */
      identity: IdentityClaims;
    };

/** RFC 9068 §2.2.3.1 identity claims, as a resource server's configuration lets its tokens carry them. */
export interface IdentityClaims {
  preferredUsername?: string;
  name?: string;
  email?: string;
  emailVerified?: boolean;
  groups?: string[];
  /** The provider that signed the person in: `github`, `oidc:<provider id>`, or `external` (the product's own login). */
  idp?: string;
}

/** An OAuth error from Gatehouse (`error` is the RFC 6749 code), or `network_error` when it could not be reached. */
export class GatehouseError extends Error {
  constructor(
    readonly error: string,
    readonly errorDescription: string | undefined,
    /** HTTP status; 0 when no response arrived. */
    readonly status: number,
    options?: { cause?: unknown },
  ) {
    super(errorDescription ? `${error}: ${errorDescription}` : error, options);
    this.name = 'GatehouseError';
  }
}

/** How a resource server's backend authenticates: its registration secret (optionally with its resource id). */
export interface ResourceCredentials {
  registrationSecret: string;
  resourceId?: string;
}

/** How an OAuth client authenticates: a public client sends only its id. */
export interface ClientCredentials {
  clientId: string;
  clientSecret?: string;
  /** Default `client_secret_basic` when a secret is given. */
  authMethod?: 'client_secret_basic' | 'client_secret_post';
}

/** POST /api/oauth/token/exchange: a token for `subject`, your own user's id, without a second sign-in. */
export async function mintToken(
  options: GatehouseOptions & { registrationSecret: string; clientId: string; subject: string; scopes?: string[] },
): Promise<TokenSet> {
  const body: Record<string, unknown> = { client_id: options.clientId, subject: options.subject };
  if (options.scopes !== undefined) body.scopes = options.scopes;
  const answer = await call(options, '/api/oauth/token/exchange', {
    headers: { authorization: `Bearer ${options.registrationSecret}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return toTokenSet(answer);
}

/**
 * Login method `external`: Gatehouse sent the browser to your login page with `?external_auth_id=…`. Once your
 * user has signed in, call this from your backend and send the browser to the returned `redirectUri`.
 */
export async function completeLogin(
  options: GatehouseOptions & { registrationSecret: string; externalAuthId: string; user: { id: string; email?: string; name?: string } },
): Promise<{ redirectUri: string }> {
  const answer = await call(options, '/api/login/complete', {
    headers: { authorization: `Bearer ${options.registrationSecret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ external_auth_id: options.externalAuthId, user: options.user }),
  });
  return { redirectUri: redirectUriOf(answer) };
}

/**
 * Custom consent: Gatehouse sent the browser to your consent page with `?interaction_id=…&user_id=…` and the
 * request's details. Report the decision (optionally approving fewer scopes) and send the browser to `redirectUri`.
 */
export async function completeConsent(
  options: GatehouseOptions & { registrationSecret: string; interactionId: string; userId: string; decision: 'approve' | 'deny'; scopes?: string[] },
): Promise<{ redirectUri: string }> {
  const body: Record<string, unknown> = { interaction_id: options.interactionId, user_id: options.userId, decision: options.decision };
  if (options.scopes) body.scopes = options.scopes;
  const answer = await call(options, '/api/consent/complete', {
    headers: { authorization: `Bearer ${options.registrationSecret}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { redirectUri: redirectUriOf(answer) };
}

function redirectUriOf(answer: Record<string, unknown>): string {
  if (typeof answer.redirect_uri !== 'string') throw new GatehouseError('server_error', 'the response has no redirect_uri', 200);
  return answer.redirect_uri;
}

/** The refresh_token grant. The refresh token rotates: keep the new one from the result. */
export async function refreshToken(
  options: GatehouseOptions & ClientCredentials & { refreshToken: string; scopes?: string[]; resource?: string },
): Promise<TokenSet> {
  const form: Record<string, string> = { grant_type: 'refresh_token', refresh_token: options.refreshToken };
  if (options.scopes) form.scope = options.scopes.join(' ');
  if (options.resource) form.resource = options.resource;
  const answer = await call(options, '/token', clientRequest(options, form));
  return toTokenSet(answer);
}

/** RFC 7009. Resolves for unknown or already-revoked tokens too; rejects only on bad credentials or requests. */
export async function revokeToken(
  options: GatehouseOptions & { token: string; tokenTypeHint?: 'access_token' | 'refresh_token' } & (ResourceCredentials | ClientCredentials),
): Promise<void> {
  const form: Record<string, string> = { token: options.token };
  if (options.tokenTypeHint) form.token_type_hint = options.tokenTypeHint;
  await call(options, '/revoke', 'registrationSecret' in options ? resourceRequest(options, form) : clientRequest(options, form));
}

/** RFC 7662, as a resource server (sees tokens for itself) or a confidential client (sees its own tokens). */
export async function introspectToken(
  options: GatehouseOptions & { token: string } & (ResourceCredentials | ClientCredentials),
): Promise<IntrospectionResult> {
  const form = { token: options.token };
  const answer = await call(options, '/introspect', 'registrationSecret' in options ? resourceRequest(options, form) : clientRequest(options, form));
  if (answer.active !== true) return { active: false };
  const result: IntrospectionResult = {
    active: true,
    scope: String(answer.scope),
    clientId: String(answer.client_id),
    sub: String(answer.sub),
    aud: String(answer.aud),
    iss: String(answer.iss),
    exp: Number(answer.exp),
    iat: Number(answer.iat),
    tokenType: answer.token_type === 'refresh_token' ? 'refresh_token' : 'Bearer',
    identity: identityOf(answer),
  };
  if (typeof answer.jti === 'string') result.jti = answer.jti;
  return result;
}

function identityOf(answer: Record<string, unknown>): IdentityClaims {
  const identity: IdentityClaims = {};
  if (typeof answer.preferred_username === 'string') identity.preferredUsername = answer.preferred_username;
  if (typeof answer.name === 'string') identity.name = answer.name;
  if (typeof answer.email === 'string') identity.email = answer.email;
  if (typeof answer.email_verified === 'boolean') identity.emailVerified = answer.email_verified;
  if (Array.isArray(answer.groups)) identity.groups = answer.groups.map(String);
  if (typeof answer.idp === 'string') identity.idp = answer.idp;
  return identity;
}

interface RequestParts {
  headers: Record<string, string>;
  body: string;
}

function clientRequest(credentials: ClientCredentials, form: Record<string, string>): RequestParts {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  const params = new URLSearchParams(form);
  if (credentials.clientSecret !== undefined && (credentials.authMethod ?? 'client_secret_basic') === 'client_secret_basic') {
    headers.authorization = basic(credentials.clientId, credentials.clientSecret);
  } else {
    params.set('client_id', credentials.clientId);
    if (credentials.clientSecret !== undefined) params.set('client_secret', credentials.clientSecret);
  }
  return { headers, body: params.toString() };
}

function resourceRequest(credentials: ResourceCredentials, form: Record<string, string>): RequestParts {
  return {
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: credentials.resourceId ? basic(credentials.resourceId, credentials.registrationSecret) : `Bearer ${credentials.registrationSecret}`,
    },
    body: new URLSearchParams(form).toString(),
  };
}

/** RFC 6749 §2.3.1: both parts are form-urlencoded before base64. */
function basic(id: string, secret: string): string {
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
  return `Basic ${btoa(`${encode(id)}:${encode(secret)}`)}`; // ASCII after encoding, so btoa is safe
}

async function call(options: GatehouseOptions, path: string, request: RequestParts): Promise<Record<string, unknown>> {
  const url = new URL(path, String(options.baseUrl).replace(/\/+$/, '') + '/');
  const doFetch = options.fetch ?? fetch;
  let response: Response;
  try {
    response = await doFetch(url, { method: 'POST', headers: { accept: 'application/json', ...request.headers }, body: request.body });
  } catch (cause) {
    throw new GatehouseError('network_error', `could not reach ${url.origin}`, 0, { cause });
  }
  const text = await response.text();
  let body: unknown = undefined;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
  }
  const object = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  if (!response.ok) {
    const error = typeof object.error === 'string' ? object.error : 'server_error';
    const description = typeof object.error_description === 'string' ? object.error_description : `HTTP ${response.status}`;
    throw new GatehouseError(error, description, response.status);
  }
  return object;
}

function toTokenSet(answer: Record<string, unknown>): TokenSet {
  if (typeof answer.access_token !== 'string' || typeof answer.expires_in !== 'number') {
    throw new GatehouseError('server_error', 'the token response has no access_token or expires_in', 200);
  }
  const set: TokenSet = { accessToken: answer.access_token, tokenType: 'Bearer', expiresIn: answer.expires_in, scope: String(answer.scope ?? '') };
  if (typeof answer.refresh_token === 'string') set.refreshToken = answer.refresh_token;
  return set;
}
