import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import * as oauth from 'oauth4webapi';
import { Browser, consentForm, type Page } from './browser.js';
import type { RunningGatehouse } from './gatehouse.js';
import { AuditLog } from '../../src/audit/audit-log.js';

/**
 * Building blocks for tests that talk OAuth to a running Gatehouse over HTTP: PKCE pairs, dynamic registration,
 * authorization URLs, getting a code through the browser (GitHub sign-in and consent), token requests with each
 * client authentication method, the mint API, introspection and revocation as a resource server or a client,
 * database snapshots, and assertions on the exact shape of errors.
 */

// ---------------------------------------------------------------------------------------------- PKCE, registration

export interface Pkce {
  verifier: string;
  challenge: string;
}

/** A fresh RFC 7636 S256 pair: a 43-character verifier and its base64url SHA-256. */
export function pkce(): Pkce {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** The storage hash Gatehouse uses for codes, refresh tokens and secrets (SHA-256, base64url). */
export function storageHash(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('base64url');
}

export type ClientAuthMethod = 'none' | 'client_secret_basic' | 'client_secret_post';

/** What POST /register answered, as a test keeps it. */
export interface TestClient {
  client_id: string;
  client_secret?: string;
  redirect_uris: string[];
  token_endpoint_auth_method: ClientAuthMethod;
  grant_types: string[];
  registration_access_token?: string;
  registration_client_uri?: string;
}

/** A loopback redirect URI on a port nothing listens on: the browser stops before following it. */
export function loopbackRedirectUri(path = '/callback'): string {
  return `http://127.0.0.1:${20_000 + randomBytes(2).readUInt16BE() % 40_000}${path}`;
}

/**
 * Registers a client through POST /register (RFC 7591). By default a public client (`none`) with one loopback
 * redirect URI and the authorization_code and refresh_token grants; `metadata` overrides any of it.
 */
export async function registerClient(gatehouse: Pick<RunningGatehouse, 'url'>, metadata: Record<string, unknown> = {}): Promise<TestClient> {
  const response = await postJson(`${gatehouse.url}/register`, {
    client_name: 'Test client',
    redirect_uris: [loopbackRedirectUri()],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    ...metadata,
  });
  if (response.status !== 201) throw new Error(`registration failed: ${response.status} ${response.text}`);
  return response.body as TestClient;
}

// ---------------------------------------------------------------------------------------------- HTTP helpers

export interface JsonResponse {
  status: number;
  headers: Headers;
  /** The parsed JSON body, or undefined when the body is empty or not JSON. */
  body: any;
  text: string;
}

export async function readJson(response: Response): Promise<JsonResponse> {
  const text = await response.text();
  let body: unknown;
  if ((response.headers.get('content-type') ?? '').includes('json') && text) body = JSON.parse(text);
  return { status: response.status, headers: response.headers, body, text };
}

/** POSTs `body` as JSON (objects are serialised; strings are sent as they are, to send malformed JSON). */
export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<JsonResponse> {
  return readJson(
    await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
      redirect: 'manual',
    }),
  );
}

/** POSTs a form body; a string is sent as it is (so a test can repeat a parameter). */
export async function postForm(url: string, form: Record<string, string> | string, headers: Record<string, string> = {}): Promise<JsonResponse> {
  return readJson(
    await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: typeof form === 'string' ? form : new URLSearchParams(form).toString(),
      redirect: 'manual',
    }),
  );
}

// ---------------------------------------------------------------------------------------------- authorization

export interface AuthorizationRequest {
  client: Pick<TestClient, 'client_id' | 'redirect_uris'>;
  /** Default: the client's first registered redirect URI. */
  redirectUri?: string;
  resource?: string;
  scope?: string;
  /** Default: a random state. */
  state?: string;
  /** Default: a fresh pair. */
  pkce?: Pkce;
  /** Extra or replacement query parameters; `undefined` removes one (e.g. `{ code_challenge: undefined }`). */
  params?: Record<string, string | undefined>;
}

export interface BuiltAuthorizationRequest {
  url: string;
  redirectUri: string;
  state: string;
  pkce: Pkce;
}

export function authorizationUrl(issuer: string, request: AuthorizationRequest): BuiltAuthorizationRequest {
  const redirectUri = request.redirectUri ?? request.client.redirect_uris[0];
  assert.ok(redirectUri, 'the client has a redirect URI');
  const state = request.state ?? randomBytes(12).toString('base64url');
  const pair = request.pkce ?? pkce();
  const query: Record<string, string | undefined> = {
    response_type: 'code',
    client_id: request.client.client_id,
    redirect_uri: redirectUri,
    code_challenge: pair.challenge,
    code_challenge_method: 'S256',
    state,
    resource: request.resource,
    scope: request.scope,
    ...request.params,
  };
  const url = new URL('/authorize', issuer);
  for (const [key, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(key, value);
  return { url: url.href, redirectUri, state, pkce: pair };
}

export interface ObtainedCode {
  code: string;
  verifier: string;
  redirectUri: string;
  state: string;
  /** Where the browser was finally sent: the client's redirect URI with code, state and iss. */
  callback: URL;
  browser: Browser;
}

/**
 * Gets an authorization code the way a person would: GitHub sign-in (through the fake GitHub the Gatehouse was
 * started with) and Approve on the consent page when it is shown. Fails the test if the client gets an error.
 */
export async function obtainCode(gatehouse: Pick<RunningGatehouse, 'url'>, request: AuthorizationRequest & { browser?: Browser }): Promise<ObtainedCode> {
  const built = authorizationUrl(gatehouse.url, request);
  const browser = request.browser ?? new Browser();
  const callback = await browser.authorize(built.url, built.redirectUri);
  const code = callback.searchParams.get('code');
  assert.ok(code, `expected a code at the client, got ${callback.href}`);
  assert.equal(callback.searchParams.get('state'), built.state);
  return { code, verifier: built.pkce.verifier, redirectUri: built.redirectUri, state: built.state, callback, browser };
}

/**
 * The front channel of a code flow for an oauth4webapi client: the authorization request (authorizationUrl, with
 * extra `params`), sign-in and consent in a browser, and the callback as oauth4webapi validates it (state, iss).
 */
export async function oauthCallback(
  as: oauth.AuthorizationServer,
  client: oauth.Client,
  request: { redirectUri: string; scope: string; resource: string; params?: Record<string, string> },
): Promise<{ params: URLSearchParams; verifier: string }> {
  const built = authorizationUrl(as.issuer, { client: { client_id: client.client_id, redirect_uris: [request.redirectUri] }, ...request });
  const callback = await new Browser().authorize(built.url, built.redirectUri);
  return { params: oauth.validateAuthResponse(as, client, callback, built.state), verifier: built.pkce.verifier };
}

export interface ConsentStep {
  browser: Browser;
  page: Page;
  form: { action: string; csrfToken: string };
  /** The interaction the consent page belongs to. */
  interactionId: string;
  request: BuiltAuthorizationRequest;
}

/** Signs in and stops at the consent page (the client must not have been granted these scopes yet). */
export async function reachConsentPage(gatehouse: Pick<RunningGatehouse, 'url'>, request: AuthorizationRequest & { browser?: Browser }): Promise<ConsentStep> {
  const built = authorizationUrl(gatehouse.url, request);
  const browser = request.browser ?? new Browser();
  const atClient = (location: string) => location.startsWith(built.redirectUri);
  let step = await browser.navigate(built.url, atClient);
  for (let pages = 0; pages < 3; pages++) {
    assert.ok(!('stoppedAt' in step), `expected the consent page, but the browser was sent to the client: ${'stoppedAt' in step ? step.stoppedAt : ''}`);
    const form = consentForm(step);
    if (form) {
      const interactionId = /\/interaction\/([^/]+)\/consent$/.exec(new URL(form.action).pathname)?.[1];
      assert.ok(interactionId, `consent form posts to an interaction: ${form.action}`);
      return { browser, page: step, form, interactionId, request: built };
    }
    const signIn = /href="([^"]*\/login\/github)"/.exec(step.html)?.[1];
    assert.ok(signIn, `expected the sign-in or consent page at ${step.url} (${step.status}): ${step.html.slice(0, 300)}`);
    step = await browser.navigate(new URL(signIn.replace(/&amp;/g, '&'), step.url).href, atClient);
  }
  throw new Error('consent page not reached');
}

// ---------------------------------------------------------------------------------------------- token endpoint

export interface ClientCredentials {
  client: Pick<TestClient, 'client_id' | 'client_secret' | 'token_endpoint_auth_method'>;
  /** Default: the method the client registered. */
  method?: ClientAuthMethod;
  /** Default: the client's secret. */
  secret?: string;
}

/** RFC 6749 §2.3.1: id and secret are form-encoded, joined by a colon, then base64-encoded. */
export function basicAuthorization(clientId: string, secret: string): string {
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(secret)}`).toString('base64')}`;
}

/**
 * POST /token (or `options.path`, e.g. `/api/oauth/token`). `params` are sent form-encoded; `undefined` values are
 * left out. The client authenticates with the given (or its registered) method.
 */
export async function tokenRequest(
  gatehouse: Pick<RunningGatehouse, 'url'>,
  credentials: ClientCredentials,
  params: Record<string, string | undefined>,
  options: { path?: string; headers?: Record<string, string> } = {},
): Promise<JsonResponse> {
  const method = credentials.method ?? credentials.client.token_endpoint_auth_method;
  const secret = credentials.secret ?? credentials.client.client_secret ?? '';
  const form: Record<string, string> = {};
  const headers: Record<string, string> = { ...options.headers };
  if (method === 'client_secret_basic') headers.authorization = basicAuthorization(credentials.client.client_id, secret);
  else form.client_id = credentials.client.client_id;
  if (method === 'client_secret_post') form.client_secret = secret;
  for (const [key, value] of Object.entries(params)) if (value !== undefined) form[key] = value;
  return postForm(`${gatehouse.url}${options.path ?? '/token'}`, form, headers);
}

/** The authorization_code grant; `params` adds or replaces parameters (`undefined` removes one). */
export function exchangeCode(
  gatehouse: Pick<RunningGatehouse, 'url'>,
  credentials: ClientCredentials,
  obtained: Pick<ObtainedCode, 'code' | 'verifier' | 'redirectUri'>,
  params: Record<string, string | undefined> = {},
): Promise<JsonResponse> {
  return tokenRequest(gatehouse, credentials, {
    grant_type: 'authorization_code',
    code: obtained.code,
    code_verifier: obtained.verifier,
    redirect_uri: obtained.redirectUri,
    ...params,
  });
}

export function refreshTokens(
  gatehouse: Pick<RunningGatehouse, 'url'>,
  credentials: ClientCredentials,
  refreshToken: string,
  params: Record<string, string | undefined> = {},
  options: { path?: string } = {},
): Promise<JsonResponse> {
  return tokenRequest(gatehouse, credentials, { grant_type: 'refresh_token', refresh_token: refreshToken, ...params }, options);
}

// ---------------------------------------------------------------------------------------------- mint, introspection, revocation

/** What a test keeps of a resource server created through the admin API. */
export interface TestResource {
  id: string;
  resource: string;
  registration_secret: string;
}

/** POST /api/oauth/token/exchange as a product backend: `Authorization: Bearer <registration secret>`, a JSON body. */
export function mintToken(gatehouse: Pick<RunningGatehouse, 'url'>, resource: Pick<TestResource, 'registration_secret'>, body: unknown): Promise<JsonResponse> {
  return postJson(`${gatehouse.url}/api/oauth/token/exchange`, body, { authorization: `Bearer ${resource.registration_secret}` });
}

/** The access token, refresh token and their claims from a mint that must succeed. */
export interface MintedTokens {
  accessToken: string;
  refreshToken: string;
  claims: { iss: string; sub: string; aud: string; client_id: string; scope: string; iat: number; exp: number; jti: string; grant_id: string };
  scope: string;
}

/** Mints for `subject` and fails the test unless Gatehouse answers 200 with an access and a refresh token. */
export async function mintTokens(
  gatehouse: Pick<RunningGatehouse, 'url'>,
  resource: Pick<TestResource, 'registration_secret'>,
  body: { client_id: string; subject: string; scopes?: string[] },
): Promise<MintedTokens> {
  const response = await mintToken(gatehouse, resource, body);
  assert.equal(response.status, 200, `mint failed: ${response.text}`);
  const { access_token: accessToken, refresh_token: refreshToken, scope } = response.body as Record<string, unknown>;
  assert.ok(typeof accessToken === 'string' && typeof refreshToken === 'string' && typeof scope === 'string', response.text);
  const [, payload] = accessToken.split('.');
  const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8')) as MintedTokens['claims'];
  return { accessToken, refreshToken, claims, scope };
}

/**
 * Who calls /introspect or /revoke: a resource server with `Basic <resource id>:<registration secret>` or
 * `Bearer <registration secret>` (`secret` overrides the real one), or an OAuth client as at /token.
 */
export type TokenCaller =
  | { resource: Pick<TestResource, 'id' | 'registration_secret'>; via: 'basic' | 'bearer'; secret?: string }
  | ClientCredentials;

export type BodyEncoding = 'form' | 'json';

/** POSTs `params` (undefined values left out) to `path`, authenticated as `caller`, form-encoded or as JSON. */
export function callerRequest(
  gatehouse: Pick<RunningGatehouse, 'url'>,
  path: string,
  caller: TokenCaller,
  params: Record<string, string | undefined>,
  encoding: BodyEncoding = 'form',
): Promise<JsonResponse> {
  const body: Record<string, string> = {};
  const headers: Record<string, string> = {};
  if ('resource' in caller) {
    const secret = caller.secret ?? caller.resource.registration_secret;
    headers.authorization = caller.via === 'basic' ? basicAuthorization(caller.resource.id, secret) : `Bearer ${secret}`;
  } else {
    const method = caller.method ?? caller.client.token_endpoint_auth_method;
    const secret = caller.secret ?? caller.client.client_secret ?? '';
    if (method === 'client_secret_basic') headers.authorization = basicAuthorization(caller.client.client_id, secret);
    else body.client_id = caller.client.client_id;
    if (method === 'client_secret_post') body.client_secret = secret;
  }
  for (const [key, value] of Object.entries(params)) if (value !== undefined) body[key] = value;
  const url = `${gatehouse.url}${path}`;
  return encoding === 'json' ? postJson(url, body, headers) : postForm(url, body, headers);
}

/** POST /introspect (RFC 7662). */
export function introspect(
  gatehouse: Pick<RunningGatehouse, 'url'>,
  caller: TokenCaller,
  token: string,
  options: { encoding?: BodyEncoding; params?: Record<string, string | undefined> } = {},
): Promise<JsonResponse> {
  return callerRequest(gatehouse, '/introspect', caller, { token, ...options.params }, options.encoding);
}

/** POST /revoke (RFC 7009), or its alias `/api/oauth/revoke` with `path`. */
export function revoke(
  gatehouse: Pick<RunningGatehouse, 'url'>,
  caller: TokenCaller,
  token: string,
  options: { encoding?: BodyEncoding; path?: '/revoke' | '/api/oauth/revoke'; params?: Record<string, string | undefined> } = {},
): Promise<JsonResponse> {
  return callerRequest(gatehouse, options.path ?? '/revoke', caller, { token, ...options.params }, options.encoding);
}

/** Whether introspection says the token is active; fails the test on anything but a 200 with a boolean `active`. */
export async function isActive(gatehouse: Pick<RunningGatehouse, 'url'>, caller: TokenCaller, token: string): Promise<boolean> {
  const response = await introspect(gatehouse, caller, token);
  assert.equal(response.status, 200, response.text);
  assert.equal(typeof response.body?.active, 'boolean', response.text);
  return response.body.active as boolean;
}

// ---------------------------------------------------------------------------------------------- database

const COUNTED_TABLES = ['clients', 'users', 'user_identities', 'consents', 'interactions', 'authorization_codes', 'grants', 'refresh_tokens', 'revoked_access_tokens', 'audit_events'] as const;

const COUNTED_STATES: Record<string, string> = {
  'interactions.completed': 'SELECT count(*)::int AS n FROM interactions WHERE completed_at IS NOT NULL',
  'authorization_codes.consumed': 'SELECT count(*)::int AS n FROM authorization_codes WHERE consumed_at IS NOT NULL',
  'grants.revoked': 'SELECT count(*)::int AS n FROM grants WHERE revoked_at IS NOT NULL',
  'refresh_tokens.rotated': 'SELECT count(*)::int AS n FROM refresh_tokens WHERE rotated_at IS NOT NULL',
};

export type DatabaseCounts = Record<string, number>;

/**
 * Row counts of every table a request could write, plus the single-use states (codes consumed, interactions
 * completed, refresh tokens rotated, grants revoked). Compare two snapshots to prove a request changed nothing.
 * Audit events written behind (token.introspected) are written first, so that a snapshot holds every event
 * recorded before it: none lands later, inside the next comparison.
 */
export async function databaseCounts(gatehouse: Pick<RunningGatehouse, 'count' | 'db' | 'app'>): Promise<DatabaseCounts> {
  await gatehouse.app.get(AuditLog).flushObservations();
  const counts: DatabaseCounts = {};
  for (const table of COUNTED_TABLES) counts[table] = await gatehouse.count(table);
  for (const [name, sql] of Object.entries(COUNTED_STATES)) {
    const rows = (await gatehouse.db.query(sql)) as Array<{ n: number }>;
    counts[name] = rows[0]?.n ?? 0;
  }
  return counts;
}

export interface AuditRow {
  type: string;
  client_id: string | null;
  subject: string | null;
  data: Record<string, unknown>;
}

export async function auditEvents(gatehouse: Pick<RunningGatehouse, 'db'>, type: string): Promise<AuditRow[]> {
  return (await gatehouse.db.query('SELECT type, client_id, subject, data FROM audit_events WHERE type = $1 ORDER BY seq', [type])) as AuditRow[];
}

/** The Gatehouse user a grant belongs to (a token's `sub` is the product's subject for a product's user, not this id). */
export async function grantUserId(gatehouse: Pick<RunningGatehouse, 'db'>, grantId: string): Promise<string> {
  const rows = (await gatehouse.db.query('SELECT user_id FROM grants WHERE id = $1', [grantId])) as Array<{ user_id: string }>;
  const userId = rows[0]?.user_id;
  if (!userId) throw new Error(`no grant ${grantId}`);
  return userId;
}

// ---------------------------------------------------------------------------------------------- assertions

/** A JSON OAuth error: exact status and code, an error_description, and never cacheable. */
export function assertOAuthError(response: JsonResponse, status: number, code: string, message = ''): void {
  const where = `${message ? message + ': ' : ''}${response.status} ${response.text.slice(0, 300)}`;
  assert.equal(response.status, status, where);
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/, where);
  assert.equal(response.body?.error, code, where);
  assert.equal(typeof response.body?.error_description, 'string', where);
  assert.match(response.headers.get('cache-control') ?? '', /no-store/, `${where}: Cache-Control`);
}

/** An HTML error page shown to the person in the browser: exact status, HTML, not cacheable, and not a redirect. */
export async function assertErrorPage(response: Response, status: number, message = ''): Promise<string> {
  const body = await response.text();
  const where = `${message ? message + ': ' : ''}${response.status} ${body.slice(0, 300)}`;
  assert.equal(response.status, status, where);
  assert.equal(response.headers.get('location'), null, `${where}: must not redirect`);
  assert.match(response.headers.get('content-type') ?? '', /^text\/html/, where);
  assert.match(body, /^<!doctype html>/i, where);
  assert.match(response.headers.get('cache-control') ?? '', /no-store/, `${where}: Cache-Control`);
  return body;
}

/**
 * An authorization error sent back to the client (RFC 6749 §4.1.2.1): a redirect to exactly the redirect URI,
 * with `error`, the request's `state` and `iss` (RFC 9207), and no code.
 */
export function assertErrorRedirect(response: Response, expected: { redirectUri: string; error: string; state: string; issuer: string }): URL {
  const location = response.headers.get('location');
  assert.ok(response.status === 302 || response.status === 303, `expected a redirect, got ${response.status}`);
  assert.ok(location, 'redirect has a Location');
  const url = new URL(location);
  const base = new URL(url.href);
  for (const name of ['error', 'error_description', 'state', 'iss']) base.searchParams.delete(name);
  assert.equal(base.href, new URL(expected.redirectUri).href, 'sent to the redirect URI of the request');
  assert.equal(url.searchParams.get('error'), expected.error, location);
  assert.ok(url.searchParams.get('error_description'), 'error_description');
  assert.equal(url.searchParams.get('state'), expected.state, 'state is echoed');
  assert.equal(url.searchParams.get('iss'), expected.issuer, 'iss (RFC 9207)');
  assert.equal(url.searchParams.get('code'), null, 'no code');
  assert.match(response.headers.get('cache-control') ?? '', /no-store/, 'Cache-Control');
  return url;
}
