import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import * as oauth from 'oauth4webapi';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { FakeGithub } from '../fakes/fake-github.js';
import { Browser } from '../support/browser.js';
import { createResource, startGatehouse, type DatabaseKind, type RunningGatehouse } from '../support/gatehouse.js';
import { postgresUnavailable } from '../support/postgres.js';
import { FakeResourceServer } from '../support/resource-server.js';

/**
 * panva's oauth4webapi as the client: it checks metadata, the registration response, RFC 9207 `iss` on the
 * redirect and every token response strictly, so this suite fails on any drift from the RFCs that a lenient
 * client would let through. The issuer is http on loopback, hence `allowInsecureRequests` on every call.
 */

type AuthMethod = 'none' | 'client_secret_basic' | 'client_secret_post';

const insecure = { [oauth.allowInsecureRequests]: true } as const;
const RESOURCE_SCOPES = ['tools:read', 'tools:execute', 'prompts:read'];
const ACCESS_TOKEN_TTL = 900;

interface RegisteredClient {
  client: oauth.Client;
  clientAuth: oauth.ClientAuth;
  clientSecret: string | undefined;
  redirectUri: string;
}

interface AuthorizationRequest {
  url: URL;
  state: string;
  verifier: string;
}

interface AccessTokenClaims extends JWTPayload {
  client_id: string;
  scope: string;
  grant_id: string;
}

function clientAuthFor(method: AuthMethod, secret: string | undefined): oauth.ClientAuth {
  if (method === 'none') return oauth.None();
  assert.ok(secret, `a ${method} client is given a client_secret at registration`);
  return method === 'client_secret_basic' ? oauth.ClientSecretBasic(secret) : oauth.ClientSecretPost(secret);
}

function sortedScopes(scope: string | undefined): string[] {
  return (scope ?? '').split(' ').filter(Boolean).sort();
}

for (const database of ['pglite', 'postgres'] as DatabaseKind[]) {
  describe(`oauth4webapi client, end to end (${database})`, { skip: database === 'postgres' && postgresUnavailable() }, () => {
    let github: FakeGithub;
    let gatehouse: RunningGatehouse;
    let mcp: FakeResourceServer;
    let as: oauth.AuthorizationServer;
    let jwks: ReturnType<typeof createRemoteJWKSet>;

    before(async () => {
      github = await new FakeGithub().start();
      gatehouse = await startGatehouse({ database, github });
      mcp = await new FakeResourceServer(gatehouse.url, RESOURCE_SCOPES).start();
      await createResource(gatehouse, { resource: mcp.resource, scopes: RESOURCE_SCOPES, default_scopes: ['tools:read'], access_token_ttl: ACCESS_TOKEN_TTL });
      // A second resource, so that every request below has to name its resource (RFC 8707) to be understood.
      await createResource(gatehouse, { resource: 'http://127.0.0.1:1/other-mcp', scopes: ['other:read'] });

      // RFC 9728 → RFC 8414, as an MCP client does it: the resource names its authorization server.
      const prm = await oauth.processResourceDiscoveryResponse(new URL(mcp.resource), await oauth.resourceDiscoveryRequest(new URL(mcp.resource), insecure));
      assert.deepEqual(prm.authorization_servers, [gatehouse.url]);
      const issuer = new URL(prm.authorization_servers![0]!);
      as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { ...insecure, algorithm: 'oauth2' }));
      jwks = createRemoteJWKSet(new URL(as.jwks_uri!));
    });

    after(async () => {
      await gatehouse?.close();
      await mcp?.stop();
      await github?.stop();
    });

    /** RFC 7591 registration through oauth4webapi, which insists on 201 and a well-formed response. */
    async function register(method: AuthMethod): Promise<RegisteredClient> {
      const redirectUri = 'http://127.0.0.1:47011/oauth/callback';
      const response = await oauth.dynamicClientRegistrationRequest(
        as,
        {
          client_name: `oauth4webapi ${method} client`,
          redirect_uris: [redirectUri],
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
          token_endpoint_auth_method: method,
        },
        insecure,
      );
      const registration = await oauth.processDynamicClientRegistrationResponse(response);
      assert.equal(registration.token_endpoint_auth_method, method);
      assert.deepEqual(registration.redirect_uris, [redirectUri]);
      if (method === 'none') {
        assert.equal(registration.client_secret, undefined, 'a public client gets no secret');
      } else {
        assert.match(String(registration.client_secret), /^gh_cs_[A-Za-z0-9_-]{43}$/);
        assert.equal(registration.client_secret_expires_at, 0, 'the secret does not expire (RFC 7591 §3.2.1)');
      }
      const client: oauth.Client = { client_id: registration.client_id, token_endpoint_auth_method: method };
      const clientSecret = typeof registration.client_secret === 'string' ? registration.client_secret : undefined;
      return { client, clientAuth: clientAuthFor(method, clientSecret), clientSecret, redirectUri };
    }

    /** An authorization request with PKCE S256, `state` and the RFC 8707 `resource`. */
    async function authorizationRequest(registered: RegisteredClient, scope: string): Promise<AuthorizationRequest> {
      const verifier = oauth.generateRandomCodeVerifier();
      const state = oauth.generateRandomState();
      const url = new URL(as.authorization_endpoint!);
      url.search = new URLSearchParams({
        client_id: registered.client.client_id,
        response_type: 'code',
        redirect_uri: registered.redirectUri,
        scope,
        state,
        code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        resource: mcp.resource,
      }).toString();
      return { url, state, verifier };
    }

    /** The whole code flow: sign in through the fake GitHub, approve, check the redirect, exchange the code. */
    async function authorize(registered: RegisteredClient, scope: string): Promise<oauth.TokenEndpointResponse> {
      const request = await authorizationRequest(registered, scope);
      const callback = await new Browser().authorize(request.url.href, registered.redirectUri);
      // Throws unless `iss` equals the discovered issuer (RFC 9207) and `state` round-tripped.
      const params = oauth.validateAuthResponse(as, registered.client, callback, request.state);
      const response = await oauth.authorizationCodeGrantRequest(as, registered.client, registered.clientAuth, params, registered.redirectUri, request.verifier, {
        ...insecure,
        additionalParameters: { resource: mcp.resource },
      });
      return oauth.processAuthorizationCodeResponse(as, registered.client, response);
    }

    function refresh(registered: RegisteredClient, refreshToken: string, extra: Record<string, string> = {}): Promise<oauth.TokenEndpointResponse> {
      return oauth
        .refreshTokenGrantRequest(as, registered.client, registered.clientAuth, refreshToken, {
          ...insecure,
          additionalParameters: { resource: mcp.resource, ...extra },
        })
        .then((response) => oauth.processRefreshTokenResponse(as, registered.client, response));
    }

    async function verifyAccessToken(token: string): Promise<AccessTokenClaims> {
      const { payload, protectedHeader } = await jwtVerify<AccessTokenClaims>(token, jwks, {
        issuer: gatehouse.url,
        audience: mcp.resource,
        typ: 'at+jwt',
        algorithms: ['ES256'],
      });
      assert.ok(protectedHeader.kid, 'the header names the signing key');
      return payload;
    }

    it('serves metadata oauth4webapi accepts, advertising what this flow relies on', () => {
      assert.equal(as.issuer, gatehouse.url);
      assert.equal(as.authorization_response_iss_parameter_supported, true);
      assert.deepEqual(as.code_challenge_methods_supported, ['S256']);
      assert.equal(as.registration_endpoint, `${gatehouse.url}/register`);
      for (const method of ['none', 'client_secret_basic', 'client_secret_post']) {
        assert.ok(as.token_endpoint_auth_methods_supported?.includes(method), `advertises ${method}`);
      }
      for (const grant of ['authorization_code', 'refresh_token']) assert.ok(as.grant_types_supported?.includes(grant), `advertises ${grant}`);
    });

    it('offers no OpenID Connect discovery, which it could not honour (no ID tokens), so an OIDC client stops there', async () => {
      const issuer = new URL(gatehouse.url);
      const response = await oauth.discoveryRequest(issuer, { ...insecure, algorithm: 'oidc' });
      assert.equal(response.status, 404);
      await assert.rejects(oauth.processDiscoveryResponse(issuer, response), (error: unknown) => {
        assert.ok(error instanceof oauth.OperationProcessingError, String(error));
        assert.equal(error.code, oauth.RESPONSE_IS_NOT_CONFORM);
        return true;
      });
    });

    it('error responses from /authorize carry iss and state too (RFC 9207 §2)', async () => {
      const registered = await register('none');
      const expectError = (callback: URL, state: string, code: string): void => {
        assert.throws(
          () => oauth.validateAuthResponse(as, registered.client, callback, state),
          (error: unknown) => {
            // An AuthorizationResponseError, not an OperationProcessingError: iss and state were checked and accepted.
            assert.ok(error instanceof oauth.AuthorizationResponseError, String(error));
            assert.equal(error.error, code);
            return true;
          },
        );
      };

      const unknownScope = await authorizationRequest(registered, 'tools:read admin:everything');
      expectError(await new Browser().authorize(unknownScope.url.href, registered.redirectUri), unknownScope.state, 'invalid_scope');

      const denied = await authorizationRequest(registered, 'tools:read');
      expectError(await new Browser().authorize(denied.url.href, registered.redirectUri, 'deny'), denied.state, 'access_denied');
    });

    for (const method of ['none', 'client_secret_basic', 'client_secret_post'] as AuthMethod[]) {
      it(`${method}: registers, authorizes with PKCE S256, exchanges the code and refreshes with rotation`, async () => {
        const registered = await register(method);
        const first = await authorize(registered, 'tools:read tools:execute');

        assert.equal(first.token_type, 'bearer');
        assert.equal(first.expires_in, ACCESS_TOKEN_TTL);
        assert.deepEqual(sortedScopes(first.scope), ['tools:execute', 'tools:read']);
        assert.ok(first.refresh_token, 'a client registered for refresh_token gets one');
        const claims = await verifyAccessToken(first.access_token);
        assert.equal(claims.client_id, registered.client.client_id);
        assert.deepEqual(sortedScopes(claims.scope), ['tools:execute', 'tools:read']);
        assert.equal(claims.exp! - claims.iat!, ACCESS_TOKEN_TTL);
        assert.ok(claims.sub);
        assert.ok(claims.jti);

        const second = await refresh(registered, first.refresh_token);
        assert.ok(second.refresh_token);
        assert.notEqual(second.refresh_token, first.refresh_token, 'refresh rotates the refresh token');
        assert.notEqual(second.access_token, first.access_token);
        assert.deepEqual(sortedScopes(second.scope), ['tools:execute', 'tools:read']);
        const refreshed = await verifyAccessToken(second.access_token);
        assert.equal(refreshed.client_id, registered.client.client_id);
        assert.equal(refreshed.sub, claims.sub);
        assert.equal(refreshed.grant_id, claims.grant_id, 'the refreshed token belongs to the same grant');
        assert.notEqual(refreshed.jti, claims.jti);
        assert.deepEqual(sortedScopes(refreshed.scope), ['tools:execute', 'tools:read']);

        // The rotated-in token works in turn: rotation hands over, it does not end the chain.
        const third = await refresh(registered, second.refresh_token);
        assert.ok(third.refresh_token);
        assert.notEqual(third.refresh_token, second.refresh_token);
      });
    }

    it('a client must authenticate at /token the way it registered', async () => {
      const registered = await register('client_secret_basic');
      const tokens = await authorize(registered, 'tools:read');
      // The right secret by the wrong method, and no secret at all: both are invalid_client (RFC 6749 §5.2).
      for (const clientAuth of [oauth.ClientSecretPost(registered.clientSecret!), oauth.None()]) {
        await assert.rejects(refresh({ ...registered, clientAuth }, tokens.refresh_token!), (error: unknown) => {
          assert.ok(error instanceof oauth.ResponseBodyError, String(error));
          assert.equal(error.error, 'invalid_client');
          assert.equal(error.status, 401);
          return true;
        });
      }
      // The refused attempts did not consume the refresh token.
      const refreshed = await refresh(registered, tokens.refresh_token!);
      assert.ok(refreshed.refresh_token);
    });

    it('refresh with a narrower scope gets exactly that scope; the grant keeps its full scope', async () => {
      const registered = await register('none');
      const first = await authorize(registered, 'tools:read tools:execute');

      const narrowed = await refresh(registered, first.refresh_token!, { scope: 'tools:read' });
      assert.equal(narrowed.scope, 'tools:read');
      const narrowedClaims = await verifyAccessToken(narrowed.access_token);
      assert.equal(narrowedClaims.scope, 'tools:read');
      assert.equal(narrowedClaims.client_id, registered.client.client_id);

      // RFC 6749 §6: narrowing applies to the access token only; the next refresh may ask for the full scope again.
      const full = await refresh(registered, narrowed.refresh_token!);
      assert.deepEqual(sortedScopes(full.scope), ['tools:execute', 'tools:read']);
      assert.deepEqual(sortedScopes((await verifyAccessToken(full.access_token)).scope), ['tools:execute', 'tools:read']);
    });

    it('refresh asking for a wider scope than granted is invalid_scope and leaves the refresh token usable', async () => {
      const registered = await register('client_secret_post');
      const first = await authorize(registered, 'tools:read');
      assert.equal(first.scope, 'tools:read');

      // tools:execute is a scope of the resource, but this grant never included it.
      await assert.rejects(refresh(registered, first.refresh_token!, { scope: 'tools:read tools:execute' }), (error: unknown) => {
        assert.ok(error instanceof oauth.ResponseBodyError, String(error));
        assert.equal(error.error, 'invalid_scope');
        assert.equal(error.status, 400);
        return true;
      });

      // The refused request rotated nothing: presenting the same token again is not mistaken for reuse.
      const refreshed = await refresh(registered, first.refresh_token!);
      assert.equal(refreshed.scope, 'tools:read');
      assert.equal((await verifyAccessToken(refreshed.access_token)).scope, 'tools:read');
    });
  });
}
