import { InvalidClientMetadata, InvalidRedirectUri } from '../common/oauth-errors.js';
import { isWebUrl, SCOPE_TOKEN } from '../common/validation.js';
import { isLoopbackHost, parseUrl } from '../common/urls.js';
import { validateClientKeyMetadata, type ClientJwks } from './client-keys.js';

export const AUTH_METHODS = ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'] as const;
export type TokenEndpointAuthMethod = (typeof AUTH_METHODS)[number];

/** Whether a client registered for `method` is given a client secret (the others prove themselves with a key, or not at all). */
export function usesClientSecret(method: TokenEndpointAuthMethod): boolean {
  return method === 'client_secret_basic' || method === 'client_secret_post';
}
/**
 * `client_credentials` may be registered by a confidential client, but it is only usable once an administrator allows
 * it for a resource server (ClientCredentialsService): registering it grants nothing.
 */
export const GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials'] as const;
export type GrantType = (typeof GRANT_TYPES)[number];
/** OIDC Dynamic Client Registration 1.0 §2, which the MCP authorization spec asks DCR clients to send. */
export const APPLICATION_TYPES = ['web', 'native'] as const;
export type ApplicationType = (typeof APPLICATION_TYPES)[number];

/** The RFC 7591 §2 client metadata Gatehouse understands; anything else a client sends is dropped. */
export interface ClientMetadata {
  redirect_uris: string[];
  token_endpoint_auth_method: TokenEndpointAuthMethod;
  grant_types: GrantType[];
  response_types: Array<'code'>;
  application_type: ApplicationType;
  client_name?: string;
  client_uri?: string;
  logo_uri?: string;
  tos_uri?: string;
  policy_uri?: string;
  scope?: string;
  contacts?: string[];
  software_id?: string;
  software_version?: string;
  /** private_key_jwt only, exactly one of the two: the client's public keys, inline or where it publishes them. */
  jwks?: ClientJwks;
  jwks_uri?: string;
}

const URL_FIELDS = ['client_uri', 'logo_uri', 'tos_uri', 'policy_uri'] as const;
const TEXT_FIELDS = ['client_name', 'software_id', 'software_version'] as const;
const MAX_REDIRECT_URIS = 20;
const MAX_URI_LENGTH = 2000;
/** Schemes that execute or read locally instead of navigating: never a redirect target. */
const FORBIDDEN_SCHEMES = new Set(['javascript:', 'data:', 'file:', 'vbscript:', 'blob:', 'about:', 'filesystem:', 'view-source:']);
/** Schemes that name another protocol rather than an app: never a place to deliver an authorization code. */
const NON_APP_SCHEMES = new Set(['ws:', 'wss:', 'ftp:', 'sftp:', 'ssh:', 'mailto:', 'tel:', 'sms:', 'news:', 'irc:', 'ldap:', 'gopher:']);

/**
 * Validates registration metadata (RFC 7591 §2, RFC 8252 for native apps) and returns only the fields
 * Gatehouse understands, normalised. Unknown fields are ignored as RFC 7591 §2 requires, never echoed.
 */
export function validateClientMetadata(input: Record<string, unknown>): ClientMetadata {
  // The redirect URIs first: of several errors, the one about the field RFC 7591 §3.2.2 singles out wins.
  const redirectUris = input.redirect_uris;
  if (redirectUris !== undefined) {
    if (!Array.isArray(redirectUris)) throw new InvalidRedirectUri('redirect_uris must be a non-empty array of URIs');
    if (redirectUris.length > MAX_REDIRECT_URIS) throw new InvalidRedirectUri(`at most ${MAX_REDIRECT_URIS} redirect_uris may be registered`);
    for (const uri of redirectUris) assertRedirectUri(uri);
  }
  const applicationType = applicationTypeOf(input.application_type, (redirectUris ?? []) as string[]);

  const method = input.token_endpoint_auth_method ?? 'client_secret_basic';
  if (typeof method !== 'string' || !(AUTH_METHODS as readonly string[]).includes(method)) {
    throw new InvalidClientMetadata(`token_endpoint_auth_method must be one of ${AUTH_METHODS.join(', ')}`);
  }

  const grantTypes = input.grant_types ?? ['authorization_code'];
  if (!isStringArray(grantTypes) || grantTypes.length === 0 || !grantTypes.every((g) => (GRANT_TYPES as readonly string[]).includes(g))) {
    throw new InvalidClientMetadata(`grant_types may only contain ${GRANT_TYPES.join(', ')}`);
  }
  if (grantTypes.includes('client_credentials') && method === 'none') {
    throw new InvalidClientMetadata('client_credentials is for confidential clients: register client_secret_basic, client_secret_post or private_key_jwt, not none');
  }
  // A machine-to-machine client (client_credentials alone) never takes part in a redirect: no redirect URIs, no response types.
  const redirects = grantTypes.includes('authorization_code');
  if (!redirects && !grantTypes.every((g) => g === 'client_credentials')) {
    throw new InvalidClientMetadata('grant_types must include authorization_code, or be ["client_credentials"] alone');
  }
  if (redirects && (redirectUris === undefined || redirectUris.length === 0)) throw new InvalidRedirectUri('redirect_uris must be a non-empty array of URIs');
  if (!redirects && redirectUris !== undefined && redirectUris.length > 0) throw new InvalidRedirectUri('a client_credentials-only client has no redirect_uris');

  const responseTypes = input.response_types ?? (redirects ? ['code'] : []);
  const expected = redirects ? ['code'] : [];
  if (!isStringArray(responseTypes) || responseTypes.length !== expected.length || responseTypes.some((type, i) => type !== expected[i])) {
    throw new InvalidClientMetadata(redirects ? 'response_types must be ["code"]' : 'a client_credentials-only client has no response_types: send []');
  }

  const metadata: ClientMetadata = {
    redirect_uris: [...new Set((redirectUris ?? []) as string[])],
    token_endpoint_auth_method: method as TokenEndpointAuthMethod,
    grant_types: [...new Set(grantTypes)] as GrantType[],
    response_types: redirects ? ['code'] : [],
    application_type: applicationType,
  };

  for (const field of TEXT_FIELDS) {
    const value = input[field];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string' || value.length === 0 || value.length > 200 || /[\u0000-\u001f\u007f]/.test(value)) {
      throw new InvalidClientMetadata(`${field} must be a string of 1 to 200 printable characters`);
    }
    metadata[field] = value;
  }
  for (const field of URL_FIELDS) {
    const value = input[field];
    if (value === undefined || value === null) continue;
    if (!isWebUrl(value)) throw new InvalidClientMetadata(`${field} must be an https URL`);
    metadata[field] = value as string;
  }
  if (input.scope !== undefined && input.scope !== null) {
    const scope = input.scope;
    if (typeof scope !== 'string' || scope.length > 2000 || !scope.split(' ').every((token) => SCOPE_TOKEN.test(token))) {
      throw new InvalidClientMetadata('scope must be a space-separated list of scope tokens');
    }
    metadata.scope = scope;
  }
  if (input.contacts !== undefined && input.contacts !== null) {
    const contacts = input.contacts;
    if (!isStringArray(contacts) || contacts.length > 10 || contacts.some((c) => c.length === 0 || c.length > 320)) {
      throw new InvalidClientMetadata('contacts must be an array of at most 10 strings');
    }
    metadata.contacts = contacts;
  }
  Object.assign(metadata, validateClientKeyMetadata(metadata.token_endpoint_auth_method, input));
  return metadata;
}

/**
 * The client's `application_type`, checked against its redirect URIs (OIDC Registration §2, RFC 8252 §7):
 * - `native`: what assertRedirectUri accepts: http on loopback, private-use schemes, and claimed https URLs
 *   (RFC 8252 §7.2; VS Code registers a loopback URI next to an https one). Reverse-DNS schemes are not
 *   required: MCP clients in use register `cursor://…`.
 * - `web`: https only. A browser app served from localhost registers as `native`, as the MCP spec says.
 * Omitted, it is inferred rather than taken as OIDC's `web`: MCP clients that predate the field (the TypeScript
 * SDK 1.x) register loopback URIs without it, and a non-OIDC server is expected to accept them.
 */
function applicationTypeOf(value: unknown, redirectUris: readonly string[]): ApplicationType {
  if (value === undefined || value === null) return inferApplicationType(redirectUris);
  if (typeof value !== 'string' || !(APPLICATION_TYPES as readonly string[]).includes(value)) {
    throw new InvalidClientMetadata(`application_type must be one of ${APPLICATION_TYPES.join(', ')}`);
  }
  if (value === 'web') {
    const notHttps = redirectUris.find((uri) => !isHttps(uri));
    if (notHttps !== undefined) {
      throw new InvalidRedirectUri(`application_type web allows only https redirect URIs, not ${notHttps}; loopback and private-use scheme redirect URIs need application_type native`);
    }
  }
  return value as ApplicationType;
}

/** `native` when any redirect URI is one only a native app may use (not https), else `web`. */
export function inferApplicationType(redirectUris: readonly string[]): ApplicationType {
  return redirectUris.every(isHttps) ? 'web' : 'native';
}

function isHttps(uri: string): boolean {
  return parseUrl(uri)?.protocol === 'https:';
}

/**
 * Redirect URIs (OAuth 2.1 §2.3.1, RFC 8252 §7): https anywhere; http only on loopback; or a private-use scheme
 * for native apps (`cursor://…`, `com.example.app:/cb`). No fragments, no credentials, nothing that executes.
 */
export function assertRedirectUri(value: unknown): void {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_URI_LENGTH) {
    throw new InvalidRedirectUri('each redirect URI must be a string of at most 2000 characters');
  }
  const url = parseUrl(value);
  if (!url) throw new InvalidRedirectUri(`redirect URI is not an absolute URI: ${value}`);
  if (FORBIDDEN_SCHEMES.has(url.protocol) || NON_APP_SCHEMES.has(url.protocol)) {
    throw new InvalidRedirectUri(`redirect URI scheme ${url.protocol} is not allowed`);
  }
  if (value.includes('#')) throw new InvalidRedirectUri('redirect URI must not contain a fragment');
  if (url.username || url.password) throw new InvalidRedirectUri('redirect URI must not contain credentials');
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    throw new InvalidRedirectUri('http redirect URIs are only allowed on loopback hosts (localhost, 127.0.0.1, [::1]); use https');
  }
  if ((url.protocol === 'http:' || url.protocol === 'https:') && !url.hostname) {
    throw new InvalidRedirectUri('redirect URI must have a host');
  }
}

/**
 * Exact string comparison, except that a loopback http redirect URI may use any port (RFC 8252 §7.3): native
 * apps bind an ephemeral port at run time. Scheme, host, path and query must still match exactly.
 */
export function redirectUriMatches(registered: readonly string[], requested: string): boolean {
  if (registered.includes(requested)) return true;
  const asked = parseUrl(requested);
  if (!asked || asked.protocol !== 'http:' || !isLoopbackHost(asked.hostname)) return false;
  return registered.some((candidate) => {
    const known = parseUrl(candidate);
    if (!known || known.protocol !== 'http:' || known.hostname !== asked.hostname) return false;
    return withoutPort(candidate) === withoutPort(requested);
  });
}

function withoutPort(value: string): string {
  return value.replace(/^(http:\/\/(?:\[[^\]]+\]|[^/:?#]+))(?::\d+)?/i, '$1');
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}
