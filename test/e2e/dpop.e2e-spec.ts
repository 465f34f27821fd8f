import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import * as oauth from 'oauth4webapi';
import { calculateJwkThumbprint, decodeJwt, exportJWK, SignJWT } from 'jose';
import { NestFactory } from '@nestjs/core';
import type { INestApplication } from '@nestjs/common';
import { McpExampleModule } from '../../examples/mcp-server/app.module.js';
import { FakeGithub } from '../fakes/fake-github.js';
import { createResource, startGatehouse, type DatabaseKind, type RunningGatehouse } from '../support/gatehouse.js';
import { postgresUnavailable } from '../support/postgres.js';
import { freePort } from '../support/net.js';
import { introspect, oauthCallback } from '../support/flows.js';
import { DPOP_NONCE_WINDOW_SECONDS, DpopNonces } from '../../src/tokens/dpop-nonce.js';

/**
 * DPoP (RFC 9449) with oauth4webapi as the client and the example MCP server behind gatehouse-guard as the
 * resource: tokens bound to the client's key at /token (code, refresh, client credentials), a public client's
 * refresh tokens bound too, replayed proofs refused, and the guard taking a bound token only with its proof.
 */

const insecure = { [oauth.allowInsecureRequests]: true } as const;
const SCOPES = ['projects:read', 'projects:write'];

/** The OAuth error oauth4webapi threw for a token response. */
async function refusal(promise: Promise<unknown>): Promise<{ error: string; status: number }> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof oauth.ResponseBodyError, String(error));
    return { error: error.error, status: error.status };
  }
  assert.fail('the token request succeeded');
}

/** A DPoP proof made by hand (oauth4webapi never repeats one), for POST `htu`. */
async function handMadeProof(keys: Awaited<ReturnType<typeof oauth.generateKeyPair>>, htu: string, jti: string): Promise<string> {
  return new SignJWT({ htm: 'POST', htu, iat: Math.floor(Date.now() / 1000), jti })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(keys.publicKey) })
    .sign(keys.privateKey);
}

for (const database of ['pglite', 'postgres'] as DatabaseKind[]) {
  describe(`DPoP (${database})`, { skip: database === 'postgres' && postgresUnavailable() }, () => {
    let github: FakeGithub;
    let gatehouse: RunningGatehouse;
    let mcp: INestApplication;
    let mcpUrl: URL;
    let projects: { id: string; registration_secret: string };
    let as: oauth.AuthorizationServer;
    const redirectUri = 'http://127.0.0.1:47011/oauth/callback';

    before(async () => {
      github = await new FakeGithub().start();
      gatehouse = await startGatehouse({ database, github });
      const port = await freePort();
      mcpUrl = new URL(`http://127.0.0.1:${port}/mcp`);
      projects = await createResource(gatehouse, { name: 'Projects', resource: mcpUrl.href, scopes: SCOPES, default_scopes: ['projects:read'] });
      mcp = await NestFactory.create(McpExampleModule.forRoot({ issuer: gatehouse.url, resource: mcpUrl.href }), { logger: false });
      await mcp.listen(port, '127.0.0.1');
      const issuer = new URL(gatehouse.url);
      as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { ...insecure, algorithm: 'oauth2' }));
    });

    after(async () => {
      await mcp?.close();
      await gatehouse?.close();
      await github?.stop();
    });

    async function registerPublic(): Promise<oauth.Client> {
      const response = await oauth.dynamicClientRegistrationRequest(
        as,
        { client_name: 'DPoP client', redirect_uris: [redirectUri], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' },
        insecure,
      );
      const registration = await oauth.processDynamicClientRegistrationResponse(response);
      return { client_id: registration.client_id, token_endpoint_auth_method: 'none' };
    }

    /** The front channel of the code flow: the authorization request (with `extra` parameters) and the callback's code. */
    function obtainCode(client: oauth.Client, extra: Record<string, string> = {}): Promise<{ params: URLSearchParams; verifier: string }> {
      return oauthCallback(as, client, { redirectUri, scope: 'projects:read', resource: mcpUrl.href, params: extra });
    }

    /** The code exchange, with a DPoP proof when `dpop` is given. */
    async function exchange(client: oauth.Client, code: { params: URLSearchParams; verifier: string }, dpop?: oauth.DPoPHandle): Promise<oauth.TokenEndpointResponse> {
      const response = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), code.params, redirectUri, code.verifier, { ...insecure, DPoP: dpop, additionalParameters: { resource: mcpUrl.href } });
      return oauth.processAuthorizationCodeResponse(as, client, response);
    }

    /** The code flow with a DPoP proof at the token endpoint. */
    async function authorize(client: oauth.Client, dpop: oauth.DPoPHandle): Promise<oauth.TokenEndpointResponse> {
      return exchange(client, await obtainCode(client), dpop);
    }

    function refresh(client: oauth.Client, refreshToken: string, dpop?: oauth.DPoPHandle): Promise<oauth.TokenEndpointResponse> {
      return oauth
        .refreshTokenGrantRequest(as, client, oauth.None(), refreshToken, { ...insecure, DPoP: dpop })
        .then((response) => oauth.processRefreshTokenResponse(as, client, response));
    }

    /** tools/list on the example MCP server, with the token as a bearer token or, with `dpop`, DPoP-bound. */
    function mcpCall(token: string, dpop?: oauth.DPoPHandle): Promise<Response> {
      const headers = new Headers({ 'content-type': 'application/json', accept: 'application/json, text/event-stream' });
      const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });
      if (!dpop) {
        headers.set('authorization', `Bearer ${token}`);
        return fetch(mcpUrl, { method: 'POST', headers, body });
      }
      return oauth.protectedResourceRequest(token, 'POST', mcpUrl, headers, body, { ...insecure, DPoP: dpop });
    }

    it('advertises exactly the proof algorithms it accepts', () => {
      assert.deepEqual(as.dpop_signing_alg_values_supported, ['ES256', 'RS256', 'PS256', 'EdDSA']);
    });

    it('binds the code flow and the refresh of a public client to its key; the guard takes the token only with a proof', async () => {
      const client = await registerPublic();
      const keys = await oauth.generateKeyPair('ES256');
      const dpop = oauth.DPoP(client, keys);
      const tokens = await authorize(client, dpop);
      assert.equal(tokens.token_type, 'dpop');
      const jkt = await dpop.calculateThumbprint();
      assert.deepEqual(decodeJwt(tokens.access_token).cnf, { jkt });

      // Introspection names the key (RFC 9449 §6.2).
      const introspected = await introspect(gatehouse, { resource: projects, via: 'bearer' }, tokens.access_token);
      assert.equal(introspected.body.active, true);
      assert.equal(introspected.body.token_type, 'DPoP');
      assert.deepEqual(introspected.body.cnf, { jkt });

      // The guard: refused as a bearer token, accepted with a proof, the proof refused when replayed.
      const asBearer = await mcpCall(tokens.access_token);
      assert.equal(asBearer.status, 401);
      assert.match(asBearer.headers.get('www-authenticate') ?? '', /^Bearer error="invalid_token"/);
      const accepted = await mcpCall(tokens.access_token, dpop);
      assert.equal(accepted.status, 200, await accepted.clone().text());

      const proof = await new SignJWT({ htm: 'POST', htu: mcpUrl.href, iat: Math.floor(Date.now() / 1000), jti: 'guard-replay', ath: sha256(tokens.access_token) })
        .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(keys.publicKey) })
        .sign(keys.privateKey);
      const call = () =>
        fetch(mcpUrl, {
          method: 'POST',
          headers: { authorization: `DPoP ${tokens.access_token}`, dpop: proof, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
        });
      assert.equal((await call()).status, 200);
      const replayed = await call();
      assert.equal(replayed.status, 401);
      const challenge = replayed.headers.get('www-authenticate') ?? '';
      assert.match(challenge, /^DPoP error="invalid_dpop_proof"/);
      assert.match(challenge, /algs="ES256 RS256 PS256 EdDSA"/);

      // Refresh: with the same key it works and binds the new token; with another key, or none, it is invalid_grant.
      const other = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
      assert.deepEqual(await refusal(refresh(client, tokens.refresh_token!, other)), { error: 'invalid_grant', status: 400 });
      assert.deepEqual(await refusal(refresh(client, tokens.refresh_token!)), { error: 'invalid_grant', status: 400 });
      const refreshed = await refresh(client, tokens.refresh_token!, dpop);
      assert.equal(refreshed.token_type, 'dpop');
      assert.deepEqual(decodeJwt(refreshed.access_token).cnf, { jkt });
    });

    it('refuses a replayed proof at /token with invalid_dpop_proof, no-store, and writes nothing', async () => {
      const client = await registerPublic();
      const keys = await oauth.generateKeyPair('ES256');
      const tokens = await authorize(client, oauth.DPoP(client, keys));
      const proof = await handMadeProof(keys, as.token_endpoint!, 'token-replay');
      const send = (refreshToken: string) =>
        fetch(as.token_endpoint!, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: proof },
          body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: client.client_id }),
        });
      const first = await send(tokens.refresh_token!);
      assert.equal(first.status, 200);
      const { refresh_token: next } = (await first.json()) as { refresh_token: string };
      const refreshTokens = await gatehouse.count('refresh_tokens');
      const replayed = await send(next);
      assert.equal(replayed.status, 400);
      assert.equal(replayed.headers.get('cache-control'), 'no-store');
      assert.equal(((await replayed.json()) as { error: string }).error, 'invalid_dpop_proof');
      assert.equal(await gatehouse.count('refresh_tokens'), refreshTokens, 'nothing rotated');

      // A proof for another URL or method is refused the same way.
      const elsewhere = await handMadeProof(keys, `${gatehouse.url}/authorize`, 'elsewhere');
      const wrongUrl = await fetch(as.token_endpoint!, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: elsewhere },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: next, client_id: client.client_id }),
      });
      assert.equal(wrongUrl.status, 400);
      assert.equal(((await wrongUrl.json()) as { error: string }).error, 'invalid_dpop_proof');
    });

    it('binds the code to the key dpop_jkt names: another key or no proof is invalid_grant and leaves the code usable', async () => {
      const client = await registerPublic();
      const keys = await oauth.generateKeyPair('ES256');
      const dpop = oauth.DPoP(client, keys);
      // The client computes the RFC 7638 thumbprint itself (jose), as it would before its DPoP handle has made a proof.
      const jkt = await calculateJwkThumbprint(await exportJWK(keys.publicKey), 'sha256');
      assert.equal(jkt, await dpop.calculateThumbprint());
      const code = await obtainCode(client, { dpop_jkt: jkt });
      const stored = (await gatehouse.db.query(`SELECT dpop_jkt FROM authorization_codes WHERE client_id = $1`, [client.client_id])) as Array<{ dpop_jkt: string | null }>;
      assert.deepEqual(stored, [{ dpop_jkt: jkt }], 'the code remembers the key');

      const other = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
      assert.deepEqual(await refusal(exchange(client, code, other)), { error: 'invalid_grant', status: 400 });
      assert.deepEqual(await refusal(exchange(client, code)), { error: 'invalid_grant', status: 400 });
      const grants = await gatehouse.count('grants');

      const tokens = await exchange(client, code, dpop);
      assert.equal(tokens.token_type, 'dpop');
      assert.deepEqual(decodeJwt(tokens.access_token).cnf, { jkt });
      assert.equal(await gatehouse.count('grants'), grants + 1, 'the refused exchanges wrote no grant');
    });

    it('refuses a malformed dpop_jkt at /authorize with invalid_request to the redirect URI', async () => {
      const client = await registerPublic();
      const url = new URL(as.authorization_endpoint!);
      url.search = new URLSearchParams({
        client_id: client.client_id,
        response_type: 'code',
        redirect_uri: redirectUri,
        state: 'malformed',
        code_challenge: await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier()),
        code_challenge_method: 'S256',
        resource: mcpUrl.href,
        dpop_jkt: 'not-a-thumbprint',
      }).toString();
      const answer = await fetch(url, { redirect: 'manual' });
      assert.equal(answer.status, 302);
      const location = new URL(answer.headers.get('location')!);
      assert.equal(`${location.origin}${location.pathname}`, redirectUri);
      assert.equal(location.searchParams.get('error'), 'invalid_request');
      assert.match(location.searchParams.get('error_description') ?? '', /dpop_jkt/);
      assert.equal(location.searchParams.get('state'), 'malformed');
    });

    it('binds client credentials tokens, and a resource that requires DPoP refuses a token request without a proof', async () => {
      const strict = await createResource(gatehouse, { name: 'Strict', resource: 'http://127.0.0.1:1/strict-mcp', scopes: ['strict:read'], require_dpop: true });
      const created = await gatehouse.admin('POST', '/admin/clients', { client_name: 'DPoP machine', grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_basic' });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const client: oauth.Client = { client_id: created.body.client_id, token_endpoint_auth_method: 'client_secret_basic' };
      const auth = oauth.ClientSecretBasic(created.body.client_secret);
      for (const [id, scopes] of [[projects.id, ['projects:read']], [strict.id, ['strict:read']]] as const) {
        const allowed = await gatehouse.admin('PUT', `/admin/clients/${encodeURIComponent(client.client_id)}/client-credentials/${id}`, { scopes });
        assert.equal(allowed.status, 200, JSON.stringify(allowed.body));
      }
      const dpop = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
      const request = (resource: string, handle?: oauth.DPoPHandle) =>
        oauth.clientCredentialsGrantRequest(as, client, auth, { resource }, { ...insecure, DPoP: handle }).then((response) => oauth.processClientCredentialsResponse(as, client, response));

      const bound = await request(mcpUrl.href, dpop);
      assert.equal(bound.token_type, 'dpop');
      assert.deepEqual(decodeJwt(bound.access_token).cnf, { jkt: await dpop.calculateThumbprint() });
      assert.equal((await mcpCall(bound.access_token, dpop)).status, 200);
      assert.equal((await mcpCall(bound.access_token)).status, 401);

      const admin = await gatehouse.admin('GET', `/admin/resources/${strict.id}`);
      assert.equal(admin.body.require_dpop, true);
      assert.deepEqual(await refusal(request(strict.resource)), { error: 'invalid_dpop_proof', status: 400 });
      assert.equal((await request(strict.resource, dpop)).token_type, 'dpop');
      // Without DPoP everything else stays as it was.
      assert.equal((await request(mcpUrl.href)).token_type, 'bearer');
    });
  });
}

/**
 * DPoP server nonces (RFC 9449 §8) with DPOP_NONCE=required. PGlite only: the nonces are stateless (an HMAC of the
 * time window), so the database makes no difference to them.
 */
describe('DPoP server nonces (DPOP_NONCE=required)', () => {
  let github: FakeGithub;
  let gatehouse: RunningGatehouse;
  let as: oauth.AuthorizationServer;
  let resourceId: string;
  const resource = 'https://nonce.example.test/mcp';
  const redirectUri = 'http://127.0.0.1:47012/oauth/callback';

  before(async () => {
    github = await new FakeGithub().start();
    gatehouse = await startGatehouse({ github, env: { DPOP_NONCE: 'required' } });
    ({ id: resourceId } = await createResource(gatehouse, { name: 'Nonces', resource, scopes: SCOPES, default_scopes: ['projects:read'] }));
    const issuer = new URL(gatehouse.url);
    as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { ...insecure, algorithm: 'oauth2' }));
  });

  after(async () => {
    await gatehouse?.close();
    await github?.stop();
  });

  async function registerPublic(): Promise<oauth.Client> {
    const response = await oauth.dynamicClientRegistrationRequest(
      as,
      { client_name: 'Nonce client', redirect_uris: [redirectUri], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' },
      insecure,
    );
    return { client_id: (await oauth.processDynamicClientRegistrationResponse(response)).client_id, token_endpoint_auth_method: 'none' };
  }

  /**
   * A token request as an oauth4webapi client makes it: on use_dpop_nonce (whose DPoP-Nonce the DPoP handle has
   * cached), once more. Says how many attempts it took.
   */
  async function withNonceRetry<T>(request: () => Promise<T>): Promise<{ result: T; attempts: number }> {
    try {
      return { result: await request(), attempts: 1 };
    } catch (error) {
      if (!oauth.isDPoPNonceError(error)) throw error;
      return { result: await request(), attempts: 2 };
    }
  }

  /** A POST to /token with a hand-made proof (no nonce unless given): the answer as it came. */
  async function rawTokenRequest(claims: Record<string, unknown>, origin?: string): Promise<Response> {
    const keys = await oauth.generateKeyPair('ES256');
    const proof = await new SignJWT({ htm: 'POST', htu: as.token_endpoint!, iat: Math.floor(Date.now() / 1000), jti: crypto.randomUUID(), ...claims })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(keys.publicKey) })
      .sign(keys.privateKey);
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', dpop: proof };
    if (origin) headers.origin = origin;
    return fetch(as.token_endpoint!, { method: 'POST', headers, body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'gh_rt_unknown', client_id: 'nobody' }) });
  }

  it('answers a proof without a nonce with 400 use_dpop_nonce, no-store and a DPoP-Nonce header exposed to browsers', async () => {
    const answer = await rawTokenRequest({}, 'https://inspector.example.test');
    assert.equal(answer.status, 400);
    const body = (await answer.json()) as { error: string; error_description: string };
    assert.equal(body.error, 'use_dpop_nonce');
    assert.match(body.error_description, /nonce/);
    assert.equal(answer.headers.get('cache-control'), 'no-store');
    const nonce = answer.headers.get('dpop-nonce');
    assert.match(nonce ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.equal(answer.headers.get('access-control-allow-origin'), '*');
    assert.match(answer.headers.get('access-control-expose-headers') ?? '', /(^|, )DPoP-Nonce(,|$)/);
    assert.equal(nonce, gatehouse.app.get(DpopNonces).current(), 'the current nonce');

    // With that nonce the proof passes, and the request goes on to be refused for what it is (an unknown client).
    const next = await rawTokenRequest({ nonce: nonce! });
    assert.equal(((await next.json()) as { error: string }).error, 'invalid_client');
    assert.equal(next.headers.get('dpop-nonce'), nonce, 'every answer carries the nonce');
  });

  it('refuses a forged nonce and one from two windows ago with use_dpop_nonce', async () => {
    const nonces = gatehouse.app.get(DpopNonces);
    const expired = nonces.current(Date.now() / 1000 - 2 * DPOP_NONCE_WINDOW_SECONDS);
    const forged = nonces.current().replace(/^./, (first) => (first === 'A' ? 'B' : 'A'));
    for (const nonce of [expired, forged, 'not-a-nonce']) {
      const answer = await rawTokenRequest({ nonce });
      assert.equal(answer.status, 400);
      assert.equal(((await answer.json()) as { error: string }).error, 'use_dpop_nonce', nonce);
      assert.equal(answer.headers.get('dpop-nonce'), nonces.current());
    }
  });

  it('lets oauth4webapi through the code flow and a refresh: one retry for the first nonce, none after', async () => {
    const client = await registerPublic();
    const dpop = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));
    const { params, verifier } = await oauthCallback(as, client, { redirectUri, scope: 'projects:read', resource });

    let answered: Response | undefined;
    const exchange = async () => {
      answered = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, redirectUri, verifier, { ...insecure, DPoP: dpop, additionalParameters: { resource } });
      return oauth.processAuthorizationCodeResponse(as, client, answered);
    };
    const code = await withNonceRetry(exchange);
    assert.equal(code.attempts, 2, 'the code was still good after the use_dpop_nonce refusal');
    assert.equal(code.result.token_type, 'dpop');
    assert.deepEqual(decodeJwt(code.result.access_token).cnf, { jkt: await dpop.calculateThumbprint() });
    assert.match(answered!.headers.get('dpop-nonce') ?? '', /^[A-Za-z0-9_-]{43}$/, 'a successful answer carries a fresh nonce');
    assert.equal(answered!.headers.get('cache-control'), 'no-store');

    const refreshed = await withNonceRetry(() =>
      oauth.refreshTokenGrantRequest(as, client, oauth.None(), code.result.refresh_token!, { ...insecure, DPoP: dpop }).then((response) => oauth.processRefreshTokenResponse(as, client, response)),
    );
    assert.equal(refreshed.attempts, 1, 'the cached nonce was taken at once');
    assert.equal(refreshed.result.token_type, 'dpop');
  });

  it('leaves token requests without DPoP as they were', async () => {
    const created = await gatehouse.admin('POST', '/admin/clients', { client_name: 'Plain machine', grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_basic' });
    const grant = await gatehouse.admin('PUT', `/admin/clients/${encodeURIComponent(created.body.client_id)}/client-credentials/${resourceId}`, { scopes: ['projects:read'] });
    assert.equal(grant.status, 200, JSON.stringify(grant.body));
    const client: oauth.Client = { client_id: created.body.client_id, token_endpoint_auth_method: 'client_secret_basic' };
    const response = await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretBasic(created.body.client_secret), { resource }, insecure);
    assert.equal((await oauth.processClientCredentialsResponse(as, client, response)).token_type, 'bearer');
  });
});

describe('DPoP server nonces off (the default)', () => {
  let gatehouse: RunningGatehouse;

  before(async () => {
    gatehouse = await startGatehouse();
  });

  after(async () => {
    await gatehouse?.close();
  });

  it('sends no DPoP-Nonce and ignores a nonce in a proof', async () => {
    const keys = await oauth.generateKeyPair('ES256');
    const proof = await new SignJWT({ htm: 'POST', htu: `${gatehouse.url}/token`, iat: Math.floor(Date.now() / 1000), jti: 'any', nonce: 'whatever' })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(keys.publicKey) })
      .sign(keys.privateKey);
    const answer = await fetch(`${gatehouse.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', dpop: proof },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'gh_rt_unknown', client_id: 'nobody' }),
    });
    assert.equal(((await answer.json()) as { error: string }).error, 'invalid_client', 'the proof passed');
    assert.equal(answer.headers.get('dpop-nonce'), null);
  });
});

function sha256(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}
