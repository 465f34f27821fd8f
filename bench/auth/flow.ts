import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { basicAuthorization, CookieJar, form, type HttpClient, type HttpResponse } from './http.js';
import type { SideTarget } from './protocol.js';

/**
 * The OAuth client, browser and (for Gatehouse) product backend of one authorization-code flow, as HTTP requests.
 *
 * Both sides sign a new user in and record that user's consent on every flow, each through its own mechanism:
 * - Gatehouse: the resource server has `login_method: external` with a `login_uri` and a `consent_uri`. The browser
 *   is sent to the product's login page with an `external_auth_id`; the product backend (played here, without a
 *   page in between) calls `POST /api/login/complete` with the registration secret and sends the browser back;
 *   Gatehouse sends it to the product's consent page; the backend calls `POST /api/consent/complete` (approve) and
 *   gets the client redirect with the code.
 * - oidc-provider: its interaction URL (in the peer process) completes the login prompt with
 *   `interactionFinished({ login })` and the consent prompt with a `Grant` and `interactionFinished({ consent })`,
 *   the pattern its documentation shows.
 * Each flow is a new user, so neither side can skip consent by remembering an earlier one.
 */

export interface CodeAndVerifier {
  code: string;
  verifier: string;
}

export interface TokenSet {
  accessToken: string;
  refreshToken: string | undefined;
  scope: string | undefined;
}

/** A flow step that did not get the answer it needed: names the side, the step and what came back. */
export class FlowError extends Error {}

function fail(target: SideTarget, what: string, response: HttpResponse): never {
  throw new FlowError(`${target.side}: ${what}: ${response.status} ${response.body.slice(0, 300)}`);
}

/** /authorize → sign-in → consent → the client's redirect URI with a code (checked against state). */
export async function obtainCode(http: HttpClient, target: SideTarget, options: { resource?: string } = {}): Promise<CodeAndVerifier> {
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(12).toString('base64url');
  const url = new URL(target.authorizationEndpoint);
  url.search = form({
    response_type: 'code',
    client_id: target.client.id,
    redirect_uri: target.client.redirectUri,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    state,
    resource: options.resource ?? target.resource,
    scope: target.scope,
  });
  const jar = new CookieJar();
  const product = target.product;
  let location = url.href;
  let productUser = '';
  for (let hops = 0; hops < 12; hops++) {
    if (location.startsWith(target.client.redirectUri)) {
      const callback = new URL(location);
      const code = callback.searchParams.get('code');
      if (!code) throw new FlowError(`${target.side}: the client got no code: ${location}`);
      if (callback.searchParams.get('state') !== state) throw new FlowError(`${target.side}: state was not echoed: ${location}`);
      return { code, verifier };
    }
    if (product && location.startsWith(product.loginUri)) {
      productUser = `bench-user-${randomUUID()}`;
      const handle = new URL(location).searchParams.get('external_auth_id') ?? '';
      const response = await productCall(http, target, '/api/login/complete', { external_auth_id: handle, user: { id: productUser } });
      location = JSON.parse(response.body).redirect_uri as string;
      continue;
    }
    if (product && location.startsWith(product.consentUri)) {
      const params = new URL(location).searchParams;
      if (params.get('user_id') !== productUser) throw new FlowError(`${target.side}: consent page was told user ${params.get('user_id')}, not ${productUser}`);
      const response = await productCall(http, target, '/api/consent/complete', { interaction_id: params.get('interaction_id') ?? '', user_id: productUser, decision: 'approve' });
      location = JSON.parse(response.body).redirect_uri as string;
      continue;
    }
    const cookie = jar.header(location);
    const response = await http.request('GET', location, cookie ? { cookie } : {});
    jar.store(location, response.setCookie);
    if (response.status >= 300 && response.status < 400 && response.location) {
      location = new URL(response.location, location).href;
      continue;
    }
    fail(target, `unexpected answer at ${new URL(location).pathname}`, response);
  }
  throw new FlowError(`${target.side}: the authorization did not reach the client in 12 steps`);
}

async function productCall(http: HttpClient, target: SideTarget, path: string, body: unknown): Promise<HttpResponse> {
  const response = await http.request('POST', `${target.issuer}${path}`, {
    authorization: `Bearer ${target.product!.registrationSecret}`,
    'content-type': 'application/json',
  }, JSON.stringify(body));
  if (response.status !== 200) fail(target, path, response);
  return response;
}

/** POST /token with client_secret_basic; anything but 200 with an access token is an error. */
export async function tokenRequest(http: HttpClient, target: SideTarget, params: Record<string, string>): Promise<TokenSet> {
  const response = await http.request('POST', target.tokenEndpoint, {
    authorization: basicAuthorization(target.client.id, target.client.secret),
    'content-type': 'application/x-www-form-urlencoded',
  }, form(params));
  if (response.status !== 200) fail(target, `token request (${params.grant_type})`, response);
  const body = JSON.parse(response.body) as { access_token?: string; refresh_token?: string; scope?: string };
  if (!body.access_token) fail(target, 'token response without access_token', response);
  return { accessToken: body.access_token, refreshToken: body.refresh_token, scope: body.scope };
}

export function exchangeCode(http: HttpClient, target: SideTarget, obtained: CodeAndVerifier): Promise<TokenSet> {
  return tokenRequest(http, target, {
    grant_type: 'authorization_code',
    code: obtained.code,
    code_verifier: obtained.verifier,
    redirect_uri: target.client.redirectUri,
  });
}

export function refresh(http: HttpClient, target: SideTarget, refreshToken: string): Promise<TokenSet> {
  return tokenRequest(http, target, { grant_type: 'refresh_token', refresh_token: refreshToken });
}

/** One whole flow: code, then tokens. */
export async function fullFlow(http: HttpClient, target: SideTarget, options: { resource?: string } = {}): Promise<TokenSet> {
  return exchangeCode(http, target, await obtainCode(http, target, options));
}

/** The request the introspection scenario repeats: the client, authenticated with client_secret_basic, asks about a token. */
export function introspectionRequest(target: SideTarget, token: string): { headers: Record<string, string>; body: string } {
  return {
    headers: {
      authorization: basicAuthorization(target.client.id, target.client.secret),
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: form({ token }),
  };
}
