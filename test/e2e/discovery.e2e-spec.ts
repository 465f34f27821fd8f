import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { createPublicKey } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { discoverAuthorizationServerMetadata } from '@modelcontextprotocol/sdk/client/auth.js';
import { createResource, startGatehouse, type DatabaseKind, type RunningGatehouse } from '../support/gatehouse.js';
import { postgresUnavailable } from '../support/postgres.js';
import type { AuthorizationServerMetadata } from '../../src/discovery/discovery.controller.js';

/** RFC 8414 metadata (not at the OIDC discovery path), the JWKS, CORS on the public endpoints, and health checks. */

type Metadata = AuthorizationServerMetadata;

const METADATA_PATH = '/.well-known/oauth-authorization-server';
/** The members a public EC key may have (RFC 7517 §4, RFC 7518 §6.2.1); the private `d` is not among them. */
const PUBLIC_EC_MEMBERS = ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y'];

for (const database of ['pglite', 'postgres'] as DatabaseKind[]) {
  describe(`discovery, JWKS, CORS and health (${database})`, { skip: database === 'postgres' && postgresUnavailable() }, () => {
    let gatehouse: RunningGatehouse;

    before(async () => {
      gatehouse = await startGatehouse({ database });
      await createResource(gatehouse, { resource: 'http://127.0.0.1:1/mcp-a', scopes: ['tools:read', 'tools:execute'], default_scopes: ['tools:read'], is_default: true });
      await createResource(gatehouse, { resource: 'http://127.0.0.1:1/mcp-b', scopes: ['tools:read', 'files:write'] });
    });

    after(async () => {
      await gatehouse?.close();
    });

    async function metadata(path: string, init: RequestInit = {}): Promise<{ response: Response; body: Metadata }> {
      const response = await fetch(`${gatehouse.url}${path}`, init);
      assert.equal(response.status, 200, `${path} answers 200`);
      assert.match(response.headers.get('content-type') ?? '', /^application\/json\b/);
      return { response, body: (await response.json()) as Metadata };
    }

    it('serves the RFC 8414 document, naming the configured issuer exactly', async () => {
      const issuer = gatehouse.config.issuer;
      assert.equal(issuer, gatehouse.url, 'the test server was configured with this issuer');
      {
        const { body } = await metadata(METADATA_PATH);
        const { scopes_supported: scopes, ...rest } = body;
        assert.deepEqual(rest, {
          issuer,
          authorization_endpoint: `${issuer}/authorize`,
          token_endpoint: `${issuer}/token`,
          registration_endpoint: `${issuer}/register`,
          introspection_endpoint: `${issuer}/introspect`,
          revocation_endpoint: `${issuer}/revoke`,
          jwks_uri: `${issuer}/.well-known/jwks.json`,
          response_types_supported: ['code'],
          response_modes_supported: ['query'],
          grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
          token_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'],
          token_endpoint_auth_signing_alg_values_supported: ['ES256', 'RS256', 'PS256', 'EdDSA', 'Ed25519'],
          introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
          introspection_endpoint_auth_signing_alg_values_supported: ['ES256', 'RS256', 'PS256', 'EdDSA', 'Ed25519'],
          revocation_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'],
          revocation_endpoint_auth_signing_alg_values_supported: ['ES256', 'RS256', 'PS256', 'EdDSA', 'Ed25519'],
          code_challenge_methods_supported: ['S256'],
          dpop_signing_alg_values_supported: ['ES256', 'RS256', 'PS256', 'EdDSA'],
          authorization_response_iss_parameter_supported: true,
          client_id_metadata_document_supported: true,
        });
        assert.deepEqual([...scopes].sort(), ['files:write', 'tools:execute', 'tools:read'], 'the union of the registered resources’ scopes, each once');
      }
    });

    it('does not pose as an OpenID provider: no document at the OIDC discovery path, and the MCP SDK still finds the RFC 8414 one', async () => {
      for (const path of ['/.well-known/openid-configuration', '/.well-known/openid-configuration/']) {
        const response = await fetch(`${gatehouse.url}${path}`);
        assert.equal(response.status, 404, path);
        assert.equal(((await response.json()) as { error: string }).error, 'not_found');
      }
      const requested: string[] = [];
      const found = await discoverAuthorizationServerMetadata(gatehouse.url, {
        fetchFn: (url, init) => {
          requested.push(String(url));
          return fetch(url, init);
        },
      });
      assert.deepEqual(requested, [`${gatehouse.url}${METADATA_PATH}`], 'the SDK asks for RFC 8414 metadata first, and is answered');
      assert.equal(found?.issuer, gatehouse.config.issuer);
      assert.equal(found?.token_endpoint, `${gatehouse.config.issuer}/token`);
    });

    it('scopes_supported follows the registered resources as they come and go', async () => {
      const created = await createResource(gatehouse, { resource: 'http://127.0.0.1:1/mcp-c', scopes: ['prompts:read', 'tools:read'] });
      assert.deepEqual([...(await metadata(METADATA_PATH)).body.scopes_supported].sort(), ['files:write', 'prompts:read', 'tools:execute', 'tools:read']);

      assert.equal((await gatehouse.admin('DELETE', `/admin/resources/${created.id}`)).status, 204);
      // tools:read stays: other resources still define it.
      assert.deepEqual([...(await metadata(METADATA_PATH)).body.scopes_supported].sort(), ['files:write', 'tools:execute', 'tools:read']);
    });

    it('advertises only endpoints that exist and answer as their RFCs say', async () => {
      const { body } = await metadata(METADATA_PATH);
      assert.equal((await fetch(body.jwks_uri)).status, 200);

      const token = await fetch(body.token_endpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
      assert.equal(token.status, 400);
      assert.equal(((await token.json()) as { error: string }).error, 'invalid_request');

      const registration = await fetch(body.registration_endpoint!, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      assert.equal(registration.status, 400);
      assert.equal(((await registration.json()) as { error: string }).error, 'invalid_redirect_uri');

      // Introspection and revocation exist and want a token first (then a caller).
      for (const endpoint of [body.introspection_endpoint, body.revocation_endpoint]) {
        const answer = await fetch(endpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
        assert.equal(answer.status, 400, endpoint);
        assert.equal(((await answer.json()) as { error: string }).error, 'invalid_request');
      }

      // Without a client there is nowhere safe to redirect to: the browser gets a page, not a redirect.
      const authorize = await fetch(body.authorization_endpoint, { redirect: 'manual' });
      assert.equal(authorize.status, 400);
      assert.match(authorize.headers.get('content-type') ?? '', /^text\/html/);
    });

    it('publishes only the public halves of its signing keys', async () => {
      const response = await fetch(`${gatehouse.url}/.well-known/jwks.json`);
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^application\/jwk-set\+json/);
      const jwks = (await response.json()) as { keys: Array<JWK & Record<string, unknown>> };
      assert.equal(jwks.keys.length, 2, 'the active key and the published next key');
      assert.equal(new Set(jwks.keys.map((key) => key.kid)).size, 2);
      for (const jwk of jwks.keys) {
        assert.equal('d' in jwk, false, 'no private key material');
        assert.deepEqual(Object.keys(jwk).sort(), PUBLIC_EC_MEMBERS);
        assert.equal(jwk.kty, 'EC');
        assert.equal(jwk.crv, 'P-256');
        assert.equal(jwk.alg, 'ES256');
        assert.equal(jwk.use, 'sig');
        assert.equal(jwk.kid, await calculateJwkThumbprint(jwk), 'kid is the RFC 7638 thumbprint');
        assert.equal(createPublicKey({ key: { ...jwk }, format: 'jwk' }).type, 'public', 'each key imports as a usable public key');
      }
    });

    it('answers a CORS preflight for /token with 204 and the allow headers', async () => {
      const response = await fetch(`${gatehouse.url}/token`, {
        method: 'OPTIONS',
        headers: { origin: 'https://inspector.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
      });
      assert.equal(response.status, 204);
      assert.equal(response.headers.get('access-control-allow-origin'), '*');
      const methods = (response.headers.get('access-control-allow-methods') ?? '').split(',').map((m) => m.trim());
      assert.ok(methods.includes('POST'), `allows POST: ${methods.join(', ')}`);
      const headers = (response.headers.get('access-control-allow-headers') ?? '').split(',').map((h) => h.trim().toLowerCase());
      for (const header of ['authorization', 'content-type']) assert.ok(headers.includes(header), `allows ${header}: ${headers.join(', ')}`);
      // A wildcard origin is only safe because no credentials are allowed with it.
      assert.equal(response.headers.get('access-control-allow-credentials'), null);
    });

    it('lets other origins read metadata, the JWKS and token endpoint errors', async () => {
      const origin = { origin: 'https://inspector.example' };
      for (const path of [METADATA_PATH, '/.well-known/jwks.json']) {
        const response = await fetch(`${gatehouse.url}${path}`, { headers: origin });
        assert.equal(response.status, 200);
        assert.equal(response.headers.get('access-control-allow-origin'), '*', `${path} is readable cross-origin`);
      }
      const error = await fetch(`${gatehouse.url}/token`, { method: 'POST', headers: { ...origin, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=password' });
      assert.equal(error.status, 400);
      assert.equal(error.headers.get('access-control-allow-origin'), '*', 'a browser client can read why /token refused it');
      assert.equal(((await error.json()) as { error: string }).error, 'unsupported_grant_type');
    });

    it('sends no CORS headers from /authorize, a page for people, not for scripts', async () => {
      const get = await fetch(`${gatehouse.url}/authorize?client_id=nobody`, { headers: { origin: 'https://evil.example' }, redirect: 'manual' });
      assert.equal(get.status, 400);
      assert.equal(get.headers.get('access-control-allow-origin'), null);

      const preflight = await fetch(`${gatehouse.url}/authorize`, {
        method: 'OPTIONS',
        headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' },
      });
      assert.notEqual(preflight.status, 204);
      assert.equal(preflight.headers.get('access-control-allow-origin'), null);
      assert.equal(preflight.headers.get('access-control-allow-methods'), null);
    });

    it('reports health and readiness', async () => {
      const health = await fetch(`${gatehouse.url}/healthz`);
      assert.equal(health.status, 200);
      assert.deepEqual(await health.json(), { status: 'ok' });

      const ready = await fetch(`${gatehouse.url}/readyz`);
      assert.equal(ready.status, 200);
      // PGlite is one process: its record cache evicts on its own writes; on PostgreSQL its listener is up.
      assert.deepEqual(await ready.json(), { status: 'ready', rate_limit_store: 'memory', record_cache: database === 'pglite' ? 'local' : 'listening' });
      assert.equal(ready.headers.get('cache-control'), 'no-store');
    });
  });
}
