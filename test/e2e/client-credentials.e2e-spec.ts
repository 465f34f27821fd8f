import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import * as oauth from 'oauth4webapi';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { NestFactory } from '@nestjs/core';
import type { INestApplication } from '@nestjs/common';
import { McpExampleModule } from '../../examples/mcp-server/app.module.js';
import { createResource, startGatehouse, type DatabaseKind, type RunningGatehouse } from '../support/gatehouse.js';
import { postgresUnavailable } from '../support/postgres.js';
import { freePort } from '../support/net.js';
import { auditEvents, introspect, isActive, registerClient, revoke, type TestClient, type TestResource } from '../support/flows.js';

/**
 * The client credentials grant (RFC 6749 §4.4, the MCP client credentials extension) with oauth4webapi as the
 * client and the example MCP server behind gatehouse-guard as the resource: an administrator allows a confidential
 * client for one resource server and some of its scopes; the client gets an access token for itself (no user, no
 * refresh token) that the guard accepts. The guard introspects every request (no cache), so that ending a token at
 * Gatehouse is seen at once.
 */

const insecure = { [oauth.allowInsecureRequests]: true } as const;
const SCOPES = ['projects:read', 'projects:write'];

/** A tools/call (or tools/list) to the MCP endpoint with `token`, as JSON-RPC over Streamable HTTP. */
async function mcpCall(url: URL, token: string, method: string, params: Record<string, unknown> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
}

/** The OAuth error of a token response oauth4webapi refused. */
async function refusal(response: Promise<Response>, as: oauth.AuthorizationServer, client: oauth.Client): Promise<{ error: string; status: number }> {
  try {
    await oauth.processClientCredentialsResponse(as, client, await response);
  } catch (error) {
    assert.ok(error instanceof oauth.ResponseBodyError, String(error));
    return { error: error.error, status: error.status };
  }
  assert.fail('the token request succeeded');
}

for (const database of ['pglite', 'postgres'] as DatabaseKind[]) {
  describe(`client credentials grant (${database})`, { skip: database === 'postgres' && postgresUnavailable() }, () => {
    let gatehouse: RunningGatehouse;
    let mcp: INestApplication;
    let mcpUrl: URL;
    let projects: TestResource;
    let other: TestResource;
    let as: oauth.AuthorizationServer;
    let jwks: ReturnType<typeof createRemoteJWKSet>;
    /** Pre-registered by the administrator: client_credentials only, client_secret_basic. */
    let machine: { client: oauth.Client; secret: string };
    /** Registered dynamically, client_secret_post, allowed for both scopes. */
    let dynamic: { client: oauth.Client; auth: oauth.ClientAuth };

    before(async () => {
      gatehouse = await startGatehouse({ database });
      const port = await freePort();
      mcpUrl = new URL(`http://127.0.0.1:${port}/mcp`);
      projects = await createResource(gatehouse, { name: 'Projects', resource: mcpUrl.href, scopes: SCOPES, default_scopes: ['projects:read'] });
      other = await createResource(gatehouse, { name: 'Other', resource: 'http://127.0.0.1:1/other-mcp', scopes: ['other:read'] });
      mcp = await NestFactory.create(
        McpExampleModule.forRoot({ issuer: gatehouse.url, resource: mcpUrl.href, revocation: { mode: 'introspect', registrationSecret: projects.registration_secret, cacheTtlMs: 0 } }),
        { logger: false },
      );
      await mcp.listen(port, '127.0.0.1');

      const issuer = new URL(gatehouse.url);
      as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { ...insecure, algorithm: 'oauth2' }));
      jwks = createRemoteJWKSet(new URL(as.jwks_uri!));

      const created = await gatehouse.admin('POST', '/admin/clients', { client_name: 'Nightly CI', grant_types: ['client_credentials'], token_endpoint_auth_method: 'client_secret_basic' });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.deepEqual(created.body.redirect_uris, []);
      assert.deepEqual(created.body.grant_types, ['client_credentials']);
      machine = { client: { client_id: created.body.client_id, token_endpoint_auth_method: 'client_secret_basic' }, secret: created.body.client_secret };
    });

    after(async () => {
      await mcp?.close();
      await gatehouse?.close();
    });

    function tokenRequest(client: oauth.Client, auth: oauth.ClientAuth, parameters: Record<string, string>): Promise<Response> {
      return oauth.clientCredentialsGrantRequest(as, client, auth, parameters, insecure);
    }

    function allow(clientId: string, resourceId: string, scopes: string[]) {
      return gatehouse.admin('PUT', `/admin/clients/${encodeURIComponent(clientId)}/client-credentials/${resourceId}`, { scopes });
    }

    it('advertises the grant in the metadata', () => {
      assert.deepEqual(as.grant_types_supported, ['authorization_code', 'refresh_token', 'client_credentials']);
    });

    it('shows a person sent to /authorize by a machine-to-machine client an error page, never a redirect', async () => {
      const url = new URL(as.authorization_endpoint!);
      url.search = new URLSearchParams({ client_id: machine.client.client_id, response_type: 'code', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256', resource: mcpUrl.href }).toString();
      const response = await fetch(url, { redirect: 'manual' });
      assert.equal(response.status, 400);
      assert.match(await response.text(), /machine-to-machine access only/);
    });

    it('refuses a client no administrator allowed: unauthorized_client', async () => {
      const refused = await refusal(tokenRequest(machine.client, oauth.ClientSecretBasic(machine.secret), { resource: mcpUrl.href }), as, machine.client);
      assert.deepEqual(refused, { error: 'unauthorized_client', status: 400 });
    });

    it('issues an access token only, for the client itself, that the guarded MCP server accepts and introspection finds active', async () => {
      const allowed = await allow(machine.client.client_id, projects.id, ['projects:read']);
      assert.equal(allowed.status, 200, JSON.stringify(allowed.body));
      assert.equal(allowed.body.resource, mcpUrl.href);
      assert.deepEqual(allowed.body.scopes, ['projects:read']);
      assert.equal(allowed.body.created_by, 'api');

      const response = await oauth.processClientCredentialsResponse(as, machine.client, await tokenRequest(machine.client, oauth.ClientSecretBasic(machine.secret), { resource: mcpUrl.href }));
      assert.equal(response.token_type, 'bearer');
      assert.equal(response.scope, 'projects:read', 'no scope asked for: the allowed ones');
      assert.equal(response.refresh_token, undefined, 'RFC 6749 §4.4.3: no refresh token');

      // RFC 9068: the client is the subject; no user claims.
      assert.equal(decodeProtectedHeader(response.access_token).typ, 'at+jwt');
      const { payload } = await jwtVerify(response.access_token, jwks, { issuer: gatehouse.url, audience: mcpUrl.href, typ: 'at+jwt' });
      assert.deepEqual(Object.keys(payload).sort(), ['aud', 'client_id', 'exp', 'grant_id', 'iat', 'iss', 'jti', 'scope', 'sub']);
      assert.equal(payload.sub, machine.client.client_id);
      assert.equal(payload.client_id, machine.client.client_id);
      assert.equal(payload.scope, 'projects:read');
      assert.equal(payload.grant_id, allowed.body.id);

      const listed = await mcpCall(mcpUrl, response.access_token, 'tools/call', { name: 'list_projects', arguments: {} });
      assert.equal(listed.status, 200, await listed.clone().text());
      assert.equal(((await listed.json()) as { result: { isError?: boolean } }).result.isError, undefined);
      // The guard's scope check: creating needs projects:write, which this client was not allowed.
      const create = await mcpCall(mcpUrl, response.access_token, 'tools/call', { name: 'create_project', arguments: { name: 'Apollo' } });
      assert.equal(create.status, 403);
      assert.match(create.headers.get('www-authenticate') ?? '', /error="insufficient_scope"/);

      for (const caller of [{ resource: projects, via: 'bearer' as const }, { client: { ...machine.client, client_secret: machine.secret } as TestClient }]) {
        const introspected = await introspect(gatehouse, caller, response.access_token);
        assert.equal(introspected.status, 200);
        assert.deepEqual(
          { ...introspected.body, exp: undefined, iat: undefined, jti: undefined },
          { active: true, scope: 'projects:read', client_id: machine.client.client_id, sub: machine.client.client_id, aud: mcpUrl.href, iss: gatehouse.url, token_type: 'Bearer', exp: undefined, iat: undefined, jti: undefined },
        );
      }

      const [issued] = (await auditEvents(gatehouse, 'token.issued')).filter((event) => event.data.jti === payload.jti);
      assert.ok(issued, 'token.issued recorded');
      assert.equal(issued.client_id, machine.client.client_id);
      assert.equal(issued.subject, null, 'no user behind the token');
      assert.equal(issued.data.grant_type, 'client_credentials');
      assert.equal(issued.data.refresh_token, false);
      assert.deepEqual(issued.data.scopes, ['projects:read']);
      const rows = (await gatehouse.db.query(`SELECT actor_kind, actor_id, resource FROM audit_events WHERE type = 'token.issued' AND data->>'jti' = $1`, [payload.jti])) as Array<Record<string, string>>;
      assert.deepEqual(rows, [{ actor_kind: 'client', actor_id: machine.client.client_id, resource: mcpUrl.href }]);
    });

    it('refuses a scope beyond the allowed ones (invalid_scope) and another resource server (invalid_target)', async () => {
      const auth = oauth.ClientSecretBasic(machine.secret);
      assert.deepEqual(await refusal(tokenRequest(machine.client, auth, { resource: mcpUrl.href, scope: 'projects:read projects:write' }), as, machine.client), {
        error: 'invalid_scope',
        status: 400,
      });
      assert.deepEqual(await refusal(tokenRequest(machine.client, auth, { resource: other.resource }), as, machine.client), { error: 'invalid_target', status: 400 });
      assert.deepEqual(await refusal(tokenRequest(machine.client, auth, { resource: 'http://127.0.0.1:1/unknown' }), as, machine.client), { error: 'invalid_target', status: 400 });
      // Two resource servers and no default: the request must name one (RFC 8707), as at /authorize.
      assert.deepEqual(await refusal(tokenRequest(machine.client, auth, {}), as, machine.client), { error: 'invalid_target', status: 400 });
    });

    it('refuses a wrong secret with 401 invalid_client and a Basic challenge', async () => {
      const response = await tokenRequest(machine.client, oauth.ClientSecretBasic('gh_cs_wrong'), { resource: mcpUrl.href });
      assert.equal(response.status, 401);
      assert.match(response.headers.get('www-authenticate') ?? '', /^Basic realm="gatehouse"/);
      assert.equal(response.headers.get('cache-control'), 'no-store');
      assert.equal(((await response.json()) as { error: string }).error, 'invalid_client');
    });

    it('refuses a public client, which an administrator cannot allow either', async () => {
      const publicClient = await registerClient(gatehouse, { token_endpoint_auth_method: 'none' });
      const client: oauth.Client = { client_id: publicClient.client_id, token_endpoint_auth_method: 'none' };
      assert.deepEqual(await refusal(tokenRequest(client, oauth.None(), { resource: mcpUrl.href }), as, client), { error: 'unauthorized_client', status: 400 });
      const refused = await allow(publicClient.client_id, projects.id, ['projects:read']);
      assert.equal(refused.status, 400);
      assert.match(refused.body.error_description, /public client/);
      // Nor may it register the grant.
      const dcr = await fetch(`${gatehouse.url}/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ redirect_uris: ['http://127.0.0.1/cb'], grant_types: ['authorization_code', 'client_credentials'], token_endpoint_auth_method: 'none' }),
      });
      assert.equal(dcr.status, 400);
      assert.equal(((await dcr.json()) as { error: string }).error, 'invalid_client_metadata');
    });

    it('lets a dynamically registered confidential client register the grant, usable only once allowed (client_secret_post)', async () => {
      const registered = await registerClient(gatehouse, { token_endpoint_auth_method: 'client_secret_post', grant_types: ['authorization_code', 'refresh_token', 'client_credentials'] });
      assert.deepEqual(registered.grant_types, ['authorization_code', 'refresh_token', 'client_credentials']);
      const client: oauth.Client = { client_id: registered.client_id, token_endpoint_auth_method: 'client_secret_post' };
      const auth = oauth.ClientSecretPost(registered.client_secret!);
      assert.deepEqual(await refusal(tokenRequest(client, auth, { resource: mcpUrl.href }), as, client), { error: 'unauthorized_client', status: 400 });
      assert.equal((await allow(registered.client_id, projects.id, SCOPES)).status, 200);
      const response = await oauth.processClientCredentialsResponse(as, client, await tokenRequest(client, auth, { resource: mcpUrl.href, scope: 'projects:write' }));
      assert.equal(response.scope, 'projects:write');
      assert.equal(response.refresh_token, undefined, 'no refresh token, although the client registered refresh_token');
      dynamic = { client, auth };
    });

    it("ends a client's tokens when an administrator revokes its grants, and lets it ask again", async () => {
      const issue = async () => (await oauth.processClientCredentialsResponse(as, dynamic.client, await tokenRequest(dynamic.client, dynamic.auth, { resource: mcpUrl.href }))).access_token;
      const token = await issue();
      const revoked = await gatehouse.admin('DELETE', `/admin/clients/${dynamic.client.client_id}/grants`);
      assert.deepEqual(revoked.body, { revoked: 1, consents_cleared: 0 });
      assert.equal(await isActive(gatehouse, { resource: projects, via: 'bearer' }, token), false);
      assert.equal((await mcpCall(mcpUrl, token, 'tools/list')).status, 401);
      const [event] = (await auditEvents(gatehouse, 'grant.revoked')).filter((row) => row.client_id === dynamic.client.client_id);
      assert.equal(event?.subject, null);
      assert.deepEqual(event?.data, { grant_id: decodeJwt(token).grant_id, reason: 'revoked_by_admin', grant_type: 'client_credentials' });
      // The permission stands: the client gets a new token, under a new grant id.
      const next = await issue();
      assert.notEqual(decodeJwt(next).grant_id, decodeJwt(token).grant_id);
      assert.equal((await mcpCall(mcpUrl, next, 'tools/list')).status, 200);
    });

    it('ends a token revoked at /revoke, and every token when the administrator narrows or removes the grant', async () => {
      const auth = oauth.ClientSecretBasic(machine.secret);
      const caller = { resource: projects, via: 'bearer' as const };
      const issue = async (scope?: string) =>
        (await oauth.processClientCredentialsResponse(as, machine.client, await tokenRequest(machine.client, auth, { resource: mcpUrl.href, ...(scope ? { scope } : {}) }))).access_token;

      const revoked = await issue();
      assert.equal((await revoke(gatehouse, { client: { ...machine.client, client_secret: machine.secret } as TestClient }, revoked)).status, 200);
      assert.equal(await isActive(gatehouse, caller, revoked), false);
      assert.equal((await mcpCall(mcpUrl, revoked, 'tools/list')).status, 401);

      // Widening keeps the tokens issued before; narrowing ends them (a new grant id).
      const before = (await allow(machine.client.client_id, projects.id, ['projects:read'])).body.id as string;
      const kept = await issue();
      const widened = await allow(machine.client.client_id, projects.id, SCOPES);
      assert.equal(widened.body.id, before);
      assert.equal(await isActive(gatehouse, caller, kept), true);
      const writer = await issue('projects:write projects:read');
      assert.equal((await mcpCall(mcpUrl, writer, 'tools/call', { name: 'create_project', arguments: { name: 'Nightly' } })).status, 200);
      const narrowed = await allow(machine.client.client_id, projects.id, ['projects:read']);
      assert.notEqual(narrowed.body.id, before);
      assert.equal(await isActive(gatehouse, caller, writer), false);
      assert.equal(await isActive(gatehouse, caller, kept), false);
      const allowedEvents = (await auditEvents(gatehouse, 'admin.client_credentials_allowed')).filter((event) => event.client_id === machine.client.client_id);
      assert.deepEqual(allowedEvents.at(-1)?.data, { resource_id: projects.id, grant_id: narrowed.body.id, scopes: ['projects:read'], previous_scopes: SCOPES });

      const last = await issue();
      assert.equal((await mcpCall(mcpUrl, last, 'tools/list')).status, 200);
      const removed = await gatehouse.admin('DELETE', `/admin/clients/${machine.client.client_id}/client-credentials/${projects.id}`);
      assert.equal(removed.status, 204);
      assert.equal(await isActive(gatehouse, caller, last), false);
      assert.equal((await mcpCall(mcpUrl, last, 'tools/list')).status, 401);
      assert.deepEqual(await refusal(tokenRequest(machine.client, auth, { resource: mcpUrl.href }), as, machine.client), { error: 'unauthorized_client', status: 400 });
      const [removal] = await auditEvents(gatehouse, 'admin.client_credentials_removed');
      assert.deepEqual(removal?.data, { resource_id: projects.id, grant_id: narrowed.body.id, scopes: ['projects:read'] });
      assert.equal((await gatehouse.admin('DELETE', `/admin/clients/${machine.client.client_id}/client-credentials/${projects.id}`)).status, 404);
    });

    it('validates the admin setting: known client and resource, scopes of that resource, a non-empty list', async () => {
      const cases: Array<[string, string, unknown, number]> = [
        ['no-such-client', projects.id, { scopes: ['projects:read'] }, 404],
        [machine.client.client_id, '00000000-0000-4000-8000-000000000000', { scopes: ['projects:read'] }, 404],
        [machine.client.client_id, 'not-a-uuid', { scopes: ['projects:read'] }, 404],
        [machine.client.client_id, projects.id, { scopes: ['other:read'] }, 400],
        [machine.client.client_id, projects.id, { scopes: [] }, 400],
        [machine.client.client_id, projects.id, { scopes: 'projects:read' }, 400],
        [machine.client.client_id, projects.id, {}, 400],
      ];
      for (const [clientId, resourceId, body, status] of cases) {
        const response = await gatehouse.admin('PUT', `/admin/clients/${encodeURIComponent(clientId)}/client-credentials/${resourceId}`, body);
        assert.equal(response.status, status, `${clientId} ${resourceId} ${JSON.stringify(body)}: ${JSON.stringify(response.body)}`);
      }
      assert.equal(await gatehouse.count('client_credentials_grants'), 1, 'only the dynamically registered client is allowed now');
      const listed = await gatehouse.admin('GET', `/admin/clients/${machine.client.client_id}/client-credentials`);
      assert.deepEqual(listed.body, []);
    });

    it('forgets the setting with its client', async () => {
      assert.equal((await allow(machine.client.client_id, projects.id, ['projects:read'])).status, 200);
      const token = (await oauth.processClientCredentialsResponse(as, machine.client, await tokenRequest(machine.client, oauth.ClientSecretBasic(machine.secret), { resource: mcpUrl.href }))).access_token;
      assert.equal((await gatehouse.admin('DELETE', `/admin/clients/${machine.client.client_id}`)).status, 204);
      assert.equal(await isActive(gatehouse, { resource: projects, via: 'bearer' }, token), false);
      const rows = (await gatehouse.db.query('SELECT 1 FROM client_credentials_grants WHERE client_id = $1', [machine.client.client_id])) as unknown[];
      assert.equal(rows.length, 0);
    });
  });
}
