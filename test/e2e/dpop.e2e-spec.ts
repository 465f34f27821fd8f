import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import * as oauth from 'oauth4webapi';
import { decodeJwt, exportJWK, SignJWT } from 'jose';
import { NestFactory } from '@nestjs/core';
import type { INestApplication } from '@nestjs/common';
import { McpExampleModule } from '../../examples/mcp-server/app.module.js';
import { FakeGithub } from '../fakes/fake-github.js';
import { Browser } from '../support/browser.js';
import { createResource, startGatehouse, type DatabaseKind, type RunningGatehouse } from '../support/gatehouse.js';
import { postgresUnavailable } from '../support/postgres.js';
import { freePort } from '../support/net.js';
import { introspect } from '../support/flows.js';

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

    /** The code flow with a DPoP proof at the token endpoint. */
    async function authorize(client: oauth.Client, dpop: oauth.DPoPHandle): Promise<oauth.TokenEndpointResponse> {
      const verifier = oauth.generateRandomCodeVerifier();
      const state = oauth.generateRandomState();
      const url = new URL(as.authorization_endpoint!);
      url.search = new URLSearchParams({
        client_id: client.client_id,
        response_type: 'code',
        redirect_uri: redirectUri,
        scope: 'projects:read',
        state,
        code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        resource: mcpUrl.href,
      }).toString();
      const callback = await new Browser().authorize(url.href, redirectUri);
      const params = oauth.validateAuthResponse(as, client, callback, state);
      const response = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, redirectUri, verifier, { ...insecure, DPoP: dpop, additionalParameters: { resource: mcpUrl.href } });
      return oauth.processAuthorizationCodeResponse(as, client, response);
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

function sha256(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}
