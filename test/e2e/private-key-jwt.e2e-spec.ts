import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import * as oauth from 'oauth4webapi';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { FakeGithub } from '../fakes/fake-github.js';
import { clientDocument, FakeClientMetadataHost, FakeDns, fakeDnsWithSystemFallback, TEST_DOMAIN } from '../fakes/client-metadata-host.js';
import { oauthCallback, postForm, type JsonResponse } from '../support/flows.js';
import { createResource, MemoryLogger, startGatehouse, type DatabaseKind, type RunningGatehouse } from '../support/gatehouse.js';
import { postgresUnavailable } from '../support/postgres.js';
import { FakeResourceServer } from '../support/resource-server.js';

/**
 * `private_key_jwt` client authentication (RFC 7523 §2.2) with oauth4webapi's PrivateKeyJwt as the client: a
 * registered client with inline `jwks`, and a client metadata document client whose `jwks_uri` is served by a real
 * https host on loopback (FakeClientMetadataHost, trusted through CIMD_EXTRA_CA_FILE, loopback allowed). Refusals
 * are probed at /token with a refresh_token grant and an unknown refresh token: client authentication comes first,
 * so an accepted assertion answers `invalid_grant` and a refused one `invalid_client`.
 */

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const insecure = { [oauth.allowInsecureRequests]: true } as const;
const SCOPES = ['tools:read', 'tools:execute'];

/** Keeps the arguments of every warning, so a test can find the one logged under a request id. */
class WarningLogger extends MemoryLogger {
  readonly warnings: unknown[][] = [];
  override warn(...args: unknown[]): void {
    this.warnings.push(args);
    super.warn(...args);
  }
}

interface KeyPair {
  privateKey: CryptoKey;
  publicJwk: JWK;
  kid: string;
  alg: string;
}

async function keyPair(alg: 'ES256' | 'RS256' | 'PS256' | 'EdDSA'): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = randomUUID();
  return { privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, use: 'sig' }, kid, alg };
}

for (const database of ['pglite', 'postgres'] as DatabaseKind[]) {
  describe(`private_key_jwt client authentication (${database})`, { skip: database === 'postgres' && postgresUnavailable() }, () => {
    let github: FakeGithub;
    let host: FakeClientMetadataHost;
    let dns: FakeDns;
    let gatehouse: RunningGatehouse;
    let mcp: FakeResourceServer;
    let as: oauth.AuthorizationServer;
    const logs = new WarningLogger();

    before(async () => {
      github = await new FakeGithub().start();
      host = await new FakeClientMetadataHost().start();
      dns = fakeDnsWithSystemFallback();
      gatehouse = await startGatehouse({ database, github, env: host.env, hostResolver: dns.resolver, logger: logs });
      mcp = await new FakeResourceServer(gatehouse.url, SCOPES).start();
      await createResource(gatehouse, { resource: mcp.resource, scopes: SCOPES, default_scopes: ['tools:read'] });
      const issuer = new URL(gatehouse.url);
      as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { ...insecure, algorithm: 'oauth2' }));
    });

    after(async () => {
      await gatehouse?.close();
      await mcp?.stop();
      await host?.stop();
      await github?.stop();
    });

    /** The reason logged for the refusal of request `requestId`'s client assertion. */
    function loggedReason(requestId: string): unknown {
      for (const [fields] of logs.warnings) {
        const record = fields as Record<string, unknown> | null;
        if (record?.msg === 'client assertion rejected' && record.request_id === requestId) return record.reason;
      }
      return undefined;
    }

    async function registerWithJwks(keys: KeyPair[], redirectUri = 'http://127.0.0.1:47021/callback'): Promise<oauth.Client> {
      const response = await oauth.dynamicClientRegistrationRequest(
        as,
        {
          client_name: 'private_key_jwt client',
          redirect_uris: [redirectUri],
          grant_types: ['authorization_code', 'refresh_token'],
          token_endpoint_auth_method: 'private_key_jwt',
          jwks: { keys: keys.map((key) => key.publicJwk) },
        },
        insecure,
      );
      const registration = await oauth.processDynamicClientRegistrationResponse(response);
      assert.equal(registration.token_endpoint_auth_method, 'private_key_jwt');
      assert.equal(registration.client_secret, undefined, 'a key-authenticated client gets no secret');
      assert.equal(registration.client_secret_expires_at, undefined);
      assert.deepEqual((registration.jwks as { keys: JWK[] }).keys.map((key) => key.kid), keys.map((key) => key.kid));
      return { client_id: registration.client_id, token_endpoint_auth_method: 'private_key_jwt' };
    }

    /** The code flow through the fake GitHub and consent, then the code exchange, with `clientAuth`. */
    async function authorize(client: oauth.Client, clientAuth: oauth.ClientAuth, redirectUri: string): Promise<oauth.TokenEndpointResponse> {
      const { params, verifier } = await oauthCallback(as, client, { redirectUri, scope: 'tools:read tools:execute', resource: mcp.resource });
      const response = await oauth.authorizationCodeGrantRequest(as, client, clientAuth, params, redirectUri, verifier, {
        ...insecure,
        additionalParameters: { resource: mcp.resource },
      });
      return oauth.processAuthorizationCodeResponse(as, client, response);
    }

    async function refresh(client: oauth.Client, clientAuth: oauth.ClientAuth, refreshToken: string): Promise<oauth.TokenEndpointResponse> {
      const response = await oauth.refreshTokenGrantRequest(as, client, clientAuth, refreshToken, { ...insecure, additionalParameters: { resource: mcp.resource } });
      return oauth.processRefreshTokenResponse(as, client, response);
    }

    /** A client assertion as a careful client makes it, with `claims` and `header` changed. */
    function assertion(clientId: string, key: KeyPair, claims: JWTPayload = {}, header: Record<string, unknown> = {}): Promise<string> {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ iss: clientId, sub: clientId, aud: gatehouse.url, jti: randomUUID(), iat: now, exp: now + 60, ...claims })
        .setProtectedHeader({ alg: key.alg, kid: key.kid, ...header })
        .sign(key.privateKey);
    }

    /** /token with a refresh token nobody holds: 400 invalid_grant once the client authenticated, 401 invalid_client if not. */
    function probe(clientAssertion: string, extra: Record<string, string> = {}, path = '/token'): Promise<JsonResponse> {
      return postForm(`${gatehouse.url}${path}`, {
        grant_type: 'refresh_token',
        refresh_token: 'gh_rt_unknown',
        client_assertion_type: JWT_BEARER,
        client_assertion: clientAssertion,
        ...extra,
      });
    }

    /** The refusal every failed assertion gets, whatever the reason; the reason is only in the log. */
    function assertRefused(response: JsonResponse, reason: string, label: string): void {
      assert.equal(response.status, 401, `${label}: ${response.text}`);
      assert.equal(response.body.error, 'invalid_client', label);
      const requestId = response.headers.get('x-request-id') ?? '';
      assert.equal(
        response.body.error_description,
        `client authentication failed; the server's operator can find the reason in its log under request id ${requestId}`,
        `${label}: the answer does not say which check failed`,
      );
      assert.equal(response.headers.get('cache-control'), 'no-store', label);
      assert.equal(loggedReason(requestId), reason, `${label}: the log says why`);
    }

    function unsigned(payload: JWTPayload, header: Record<string, unknown>): string {
      const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
      return `${encode(header)}.${encode(payload)}.`;
    }

    it('advertises private_key_jwt and exactly the algorithms it accepts, at every endpoint that authenticates clients', () => {
      const algs = ['ES256', 'RS256', 'PS256', 'EdDSA', 'Ed25519'];
      assert.ok(as.token_endpoint_auth_methods_supported?.includes('private_key_jwt'));
      assert.ok(as.introspection_endpoint_auth_methods_supported?.includes('private_key_jwt'));
      assert.ok(as.revocation_endpoint_auth_methods_supported?.includes('private_key_jwt'));
      assert.deepEqual(as.token_endpoint_auth_signing_alg_values_supported, algs);
      assert.deepEqual(as.introspection_endpoint_auth_signing_alg_values_supported, algs);
      assert.deepEqual(as.revocation_endpoint_auth_signing_alg_values_supported, algs);
    });

    it('a registered client with inline jwks: code flow, refresh, introspection and revocation with PrivateKeyJwt', async () => {
      const key = await keyPair('ES256');
      const redirectUri = 'http://127.0.0.1:47021/callback';
      const client = await registerWithJwks([key], redirectUri);
      const clientAuth = oauth.PrivateKeyJwt({ key: key.privateKey, kid: key.kid });

      const first = await authorize(client, clientAuth, redirectUri);
      assert.ok(first.refresh_token);
      const second = await refresh(client, clientAuth, first.refresh_token);
      assert.ok(second.refresh_token && second.refresh_token !== first.refresh_token, 'the refresh token rotated');

      const introspected = await oauth.processIntrospectionResponse(as, client, await oauth.introspectionRequest(as, client, clientAuth, second.access_token, insecure));
      assert.equal(introspected.active, true);
      assert.equal(introspected.client_id, client.client_id);
      await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, clientAuth, second.refresh_token!, insecure));
      await assert.rejects(refresh(client, clientAuth, second.refresh_token!), (error: unknown) => error instanceof oauth.ResponseBodyError && error.error === 'invalid_grant');

      // Every assertion's jti was recorded once, until the assertion expires.
      const [row] = (await gatehouse.db.query('SELECT count(*)::int AS n, min(expires_at) AS first_expiry FROM client_assertion_jtis WHERE client_id = $1', [client.client_id])) as Array<{ n: number; first_expiry: Date }>;
      assert.equal(row?.n, 5, 'code exchange, refresh, introspection, revocation and the refused refresh');
      assert.ok(new Date(row!.first_expiry).getTime() > Date.now());
    });

    it('a client metadata document client with a jwks_uri: code flow and refresh; the key set is fetched once, and again on key rotation', async () => {
      const key = await keyPair('EdDSA');
      const documentPath = '/pkjwt/client.json';
      const jwksPath = '/pkjwt/jwks.json';
      const clientId = host.url(documentPath);
      const redirectUri = 'http://127.0.0.1:47022/callback';
      host.serveDocument(jwksPath, { keys: [key.publicJwk] }, { headers: { 'cache-control': 'max-age=600' } });
      host.serveDocument(
        documentPath,
        clientDocument(clientId, { redirect_uris: [redirectUri], token_endpoint_auth_method: 'private_key_jwt', jwks_uri: host.url(jwksPath) }),
        { headers: { 'cache-control': 'max-age=3600' } },
      );
      const client: oauth.Client = { client_id: clientId, token_endpoint_auth_method: 'private_key_jwt' };
      // oauth4webapi signs with an Ed25519 key as alg "Ed25519" (RFC 9864).
      const clientAuth = oauth.PrivateKeyJwt({ key: key.privateKey, kid: key.kid });

      const first = await authorize(client, clientAuth, redirectUri);
      const second = await refresh(client, clientAuth, first.refresh_token!);
      assert.ok(second.access_token);
      assert.equal(host.count(jwksPath), 1, 'the key set was fetched once and then used from the cache');

      // The client rotates its key: the unknown kid makes Gatehouse fetch the set again, once.
      const rotated = await keyPair('EdDSA');
      host.serveDocument(jwksPath, { keys: [rotated.publicJwk] });
      const third = await refresh(client, oauth.PrivateKeyJwt({ key: rotated.privateKey, kid: rotated.kid }), second.refresh_token!);
      assert.ok(third.access_token);
      assert.equal(host.count(jwksPath), 2);

      // Another unknown kid right after: refused without fetching again (forced refetches are rate-limited).
      const stranger = await keyPair('EdDSA');
      assertRefused(await probe(await assertion(clientId, stranger)), 'no_matching_key', 'unknown kid');
      assert.equal(host.count(jwksPath), 2, 'no fetch for a made-up kid within a minute of the last one');
      // The old key no longer works either: it left the published set.
      assertRefused(await probe(await assertion(clientId, key)), 'no_matching_key', 'removed key');
    });

    it('refuses every faulty assertion with the same invalid_client, and logs why', async () => {
      const key = await keyPair('ES256');
      const rsa = await keyPair('RS256');
      const pss = await keyPair('PS256');
      const clientId = (await registerWithJwks([key, rsa, pss])).client_id;
      const accepted = async (clientAssertion: string, label: string, extra: Record<string, string> = {}, path?: string) => {
        const response = await probe(clientAssertion, extra, path);
        assert.equal(response.status, 400, `${label}: ${response.text}`);
        assert.equal(response.body.error, 'invalid_grant', `${label}: the client authenticated`);
      };
      const now = Math.floor(Date.now() / 1000);

      // What is accepted: aud the issuer, or the URL of the endpoint called; RS256 and PS256; with or without client_id.
      await accepted(await assertion(clientId, key), 'aud issuer', { client_id: clientId });
      await accepted(await assertion(clientId, key, { aud: `${gatehouse.url}/token` }), 'aud token endpoint');
      await accepted(await assertion(clientId, key, { aud: [`${gatehouse.url}/api/oauth/token`, 'https://other.example'] }), 'aud endpoint alias in a list', {}, '/api/oauth/token');
      await accepted(await assertion(clientId, rsa), 'RS256');
      await accepted(await assertion(clientId, pss), 'PS256');

      const other = await keyPair('ES256');
      const cases: Array<[string, Promise<string> | string, string]> = [
        ['wrong key', assertion(clientId, { ...other, kid: key.kid }), 'no_matching_key'],
        ['wrong key without kid', assertion(clientId, other, {}, { kid: undefined }), 'no_matching_key'],
        ['aud another server', assertion(clientId, key, { aud: 'https://other.example' }), 'claim_aud'],
        ['aud another endpoint of this server', assertion(clientId, key, { aud: `${gatehouse.url}/introspect` }), 'claim_aud'],
        ['expired', assertion(clientId, key, { exp: now - 120, iat: now - 180 }), 'expired'],
        ['valid too long', assertion(clientId, key, { exp: now + 3600 }), 'lifetime_too_long'],
        ['not yet valid', assertion(clientId, key, { nbf: now + 600, exp: now + 240 }), 'claim_nbf'],
        ['issued in the future', assertion(clientId, key, { iat: now + 600 }), 'claim_iat'],
        ['no exp', assertion(clientId, key, { exp: undefined }), 'claim_exp'],
        ['no jti', assertion(clientId, key, { jti: undefined }), 'claim_jti'],
        ['iss not the client', assertion(clientId, key, { iss: 'someone-else' }), 'claim_iss'],
        ['another typ', assertion(clientId, key, {}, { typ: 'dpop+jwt' }), 'wrong_type'],
        ['alg none', unsigned({ iss: clientId, sub: clientId, aud: gatehouse.url, jti: randomUUID(), exp: now + 60 }, { alg: 'none' }), 'alg_not_allowed'],
        [
          'HS256',
          new SignJWT({ iss: clientId, sub: clientId, aud: gatehouse.url, jti: randomUUID(), exp: now + 60 }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode('a'.repeat(32))),
          'alg_not_allowed',
        ],
      ];
      for (const [label, made, reason] of cases) assertRefused(await probe(await made), reason, label);

      // Single use: the second presentation of the same assertion is refused, on any instance (the jti is in the database).
      const once = await assertion(clientId, key);
      await accepted(once, 'first use');
      assertRefused(await probe(once), 'replayed', 'second use');

      // client_id, when sent, must be the assertion's subject; an assertion does not combine with a secret.
      const mismatched = await probe(await assertion(clientId, key), { client_id: randomUUID() });
      assert.equal(mismatched.status, 401);
      assert.equal(mismatched.body.error, 'invalid_client');
      const withSecret = await probe(await assertion(clientId, key), { client_secret: 'gh_cs_x' });
      assert.equal(withSecret.status, 400);
      assert.equal(withSecret.body.error, 'invalid_request');
      const wrongType = await probe(await assertion(clientId, key), { client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer' });
      assert.equal(wrongType.status, 401);

      // The client cannot fall back to a method it did not register.
      const asPublic = await postForm(`${gatehouse.url}/token`, { grant_type: 'refresh_token', refresh_token: 'gh_rt_unknown', client_id: clientId });
      assert.equal(asPublic.status, 401);
      assert.equal(asPublic.body.error, 'invalid_client');

      // No assertion or key material reached the log.
      assert.ok(!logs.lines.some((line) => line.includes(once)), 'an assertion appeared in the logs');
    });

    it('refuses a jwks_uri on a private address: an IP literal at registration, a name when it is fetched', async () => {
      const register = (jwksUri: string) =>
        fetch(`${gatehouse.url}/register`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ redirect_uris: ['http://127.0.0.1:47023/callback'], token_endpoint_auth_method: 'private_key_jwt', jwks_uri: jwksUri }),
        });
      for (const literal of ['https://10.0.0.1/jwks.json', 'https://169.254.169.254/latest/jwks', 'https://[fd00::1]/jwks']) {
        const refused = await register(literal);
        assert.equal(refused.status, 400, literal);
        assert.equal(((await refused.json()) as { error: string }).error, 'invalid_client_metadata');
      }

      const name = `keys.${TEST_DOMAIN}`;
      dns.map(name, '10.0.0.1');
      const response = await register(host.url('/internal/jwks.json', name));
      assert.equal(response.status, 201);
      const { client_id: clientId } = (await response.json()) as { client_id: string };
      const seen = host.requests.length;
      const key = await keyPair('ES256');
      assertRefused(await probe(await assertion(clientId, key)), 'jwks_uri_address_not_allowed', 'jwks_uri resolving to 10.0.0.1');
      assert.equal(host.requests.length, seen, 'nothing was fetched');
      assert.equal(dns.lookupsOf(name), 1);
    });
  });
}
