import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import type { Server } from 'node:http';
import express from 'express';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { createExpressMcpApp } from '../../examples/express-mcp-server/app.js';
import { AccessTokenVerifier, mcpToolScopes, requireGatehouseAuth, serveProtectedResourceMetadata } from 'gatehouse-guard/express';
import { Browser } from '../support/browser.js';
import { createResource, startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { mintTokens, registerClient } from '../support/flows.js';
import { freePort } from '../support/net.js';
import { InMemoryOAuthProvider } from '../support/sdk-provider.js';

/**
 * gatehouse-guard outside NestJS: an MCP server on the SDK's own Express Streamable HTTP transport, protected by
 * requireGatehouseAuth, driven by the SDK's client through discovery, development sign-in and consent against a
 * real Gatehouse.
 */

const TOOL_SCOPES = { write_note: ['notes:write'] };
const BASE_SCOPES = ['notes:read'];

interface Caller {
  sub: unknown;
  clientId: string | undefined;
  scopes: string[] | undefined;
  resource: string | undefined;
}

/** A stateless MCP server whose tools report the caller the transport handed them (`extra.authInfo`). */
function buildServer(): McpServer {
  const server = new McpServer({ name: 'notes-on-express', version: '1.0.0' });
  const caller = (auth: { clientId: string; scopes: string[]; resource?: URL; extra?: Record<string, unknown> } | undefined): Caller => ({
    sub: auth?.extra?.sub,
    clientId: auth?.clientId,
    scopes: auth?.scopes,
    resource: auth?.resource?.href,
  });
  server.registerTool('whoami', { description: 'Who is calling (needs notes:read)' }, (extra) => ({ content: [{ type: 'text', text: JSON.stringify(caller(extra.authInfo)) }] }));
  server.registerTool('write_note', { description: 'Write a note (needs notes:write)' }, (extra) => ({ content: [{ type: 'text', text: JSON.stringify(caller(extra.authInfo)) }] }));
  return server;
}

/** The Express app as its README shows it: JSON body, metadata at the root, the guard in front of /mcp. */
async function startExpressMcp(issuer: string, port: number): Promise<{ server: Server; url: URL }> {
  const url = new URL(`http://127.0.0.1:${port}/mcp`);
  const verifier = new AccessTokenVerifier({ issuer, resource: url.href, scopesSupported: ['notes:read', 'notes:write'], resourceName: 'Notes on Express' });
  const app = express();
  app.use(express.json());
  app.use(serveProtectedResourceMetadata({ verifier }));
  app.post('/mcp', requireGatehouseAuth({ verifier, requiredScopes: mcpToolScopes(TOOL_SCOPES, BASE_SCOPES) }), async (req, res) => {
    const server = buildServer();
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
  });
  const server = await new Promise<Server>((resolve) => {
    const listening = app.listen(port, '127.0.0.1', () => resolve(listening));
  });
  return { server, url };
}

function toolText(result: Awaited<ReturnType<Client['callTool']>>): Caller {
  assert.equal(result.isError, undefined, JSON.stringify(result));
  return JSON.parse((result.content as Array<{ text: string }>)[0]!.text) as Caller;
}

const rpc = (method: string, params: Record<string, unknown> = {}) => ({ jsonrpc: '2.0', id: 1, method, params });

function postMcp(url: URL, body: unknown, token?: string): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  if (token) headers.authorization = `Bearer ${token}`;
  return fetch(url, { method: 'POST', headers, body: JSON.stringify(body) });
}

describe('gatehouse-guard/express in front of the MCP SDK Express transport, with the SDK client and a real Gatehouse', () => {
  let gatehouse: RunningGatehouse;
  let mcp: { server: Server; url: URL };
  let prm: string;
  let accessToken = '';

  before(async () => {
    gatehouse = await startGatehouse({ env: { DEV_LOGIN: 'true', LOG_LEVEL: 'warn' } });
    const port = await freePort();
    await createResource(gatehouse, { name: 'Notes on Express', resource: `http://127.0.0.1:${port}/mcp`, scopes: ['notes:read', 'notes:write'], default_scopes: ['notes:read'] });
    mcp = await startExpressMcp(gatehouse.url, port);
    prm = `http://127.0.0.1:${port}/.well-known/oauth-protected-resource/mcp`;
  });
  after(async () => {
    mcp?.server.closeAllConnections();
    await new Promise<void>((resolve) => (mcp ? mcp.server.close(() => resolve()) : resolve()));
    await gatehouse?.close();
  });

  it('answers a request without a token with 401 and the challenge, and serves the metadata it names', async () => {
    const response = await postMcp(mcp.url, rpc('tools/list'));
    assert.equal(response.status, 401);
    assert.equal(response.headers.get('www-authenticate'), `Bearer scope="notes:read", resource_metadata="${prm}"`);
    assert.equal(response.headers.get('cache-control'), 'no-store');

    const metadata = await fetch(prm);
    assert.equal(metadata.status, 200);
    assert.deepEqual(await metadata.json(), {
      resource: mcp.url.href,
      authorization_servers: [gatehouse.url],
      bearer_methods_supported: ['header'],
      dpop_signing_alg_values_supported: ['ES256', 'RS256', 'PS256', 'EdDSA'],
      scopes_supported: ['notes:read', 'notes:write'],
      resource_name: 'Notes on Express',
    });
  });

  it('lets the SDK client discover Gatehouse from the 401, sign in and consent, then call a tool that sees the user', async () => {
    const redirectUrl = 'http://127.0.0.1:33432/callback';
    const provider = new InMemoryOAuthProvider(redirectUrl, {
      client_name: 'Express guard e2e',
      redirect_uris: [redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    });
    const client = new Client({ name: 'e2e', version: '1.0.0' });
    const first = new StreamableHTTPClientTransport(mcp.url, { authProvider: provider });
    await assert.rejects(client.connect(first), UnauthorizedError);
    const authorizationUrl = provider.authorizationUrl!;
    assert.equal(authorizationUrl.origin, gatehouse.url, 'the client found Gatehouse through the protected resource metadata');
    assert.equal(authorizationUrl.searchParams.get('resource'), mcp.url.href);

    const callback = await new Browser('dana').authorize(authorizationUrl.href, redirectUrl);
    await first.finishAuth(callback.searchParams.get('code')!);
    accessToken = provider.savedTokens!.access_token;

    await client.connect(new StreamableHTTPClientTransport(mcp.url, { authProvider: provider }));
    const caller = toolText(await client.callTool({ name: 'whoami', arguments: {} }));
    const identities = (await gatehouse.db.query(`SELECT user_id FROM user_identities WHERE provider = 'dev' AND subject = 'dana'`)) as Array<{ user_id: string }>;
    assert.equal(identities.length, 1);
    assert.deepEqual(caller, { sub: identities[0]!.user_id, clientId: provider.client!.client_id, scopes: ['notes:read'], resource: mcp.url.href });
    await client.close();
  });

  it('refuses a tool that needs more scope with 403 insufficient_scope naming every scope, so the client can step up', async () => {
    assert.ok(accessToken, 'the previous test obtained a token');
    const response = await postMcp(mcp.url, rpc('tools/call', { name: 'write_note', arguments: {} }), accessToken);
    assert.equal(response.status, 403);
    assert.equal(
      response.headers.get('www-authenticate'),
      `Bearer error="insufficient_scope", error_description="this request needs scope notes:write", scope="notes:read notes:write", resource_metadata="${prm}"`,
    );
    assert.equal(((await response.json()) as { error: string }).error, 'insufficient_scope');
  });

  it('refuses a token Gatehouse issued for another resource server, through the SDK client too', async () => {
    const other = await createResource(gatehouse, { name: 'Other', resource: 'https://other.example.com/mcp', scopes: ['notes:read'], default_scopes: ['notes:read'] });
    const client = await registerClient(gatehouse);
    const { accessToken: foreign } = await mintTokens(gatehouse, other, { client_id: client.client_id, subject: 'user-elsewhere', scopes: ['notes:read'] });

    const response = await postMcp(mcp.url, rpc('tools/list'), foreign);
    assert.equal(response.status, 401);
    assert.equal(
      response.headers.get('www-authenticate'),
      `Bearer error="invalid_token", error_description="token was issued for another resource", scope="notes:read", resource_metadata="${prm}"`,
    );

    const sdk = new Client({ name: 'e2e', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(mcp.url, { requestInit: { headers: { authorization: `Bearer ${foreign}` } } });
    await assert.rejects(sdk.connect(transport), (error: Error & { code?: unknown }) => error.code === 401 && /token was issued for another resource/.test(error.message));
  });

  it('runs the Express example server: its tools act as the token\'s subject, and only POST is served', async () => {
    const port = await freePort();
    const resource = await createResource(gatehouse, { name: 'Projects on Express', resource: `http://127.0.0.1:${port}/mcp`, scopes: ['projects:read', 'projects:write'], default_scopes: ['projects:read'] });
    const example = createExpressMcpApp({ issuer: gatehouse.url, resource: resource.resource });
    const server = await new Promise<Server>((resolve) => {
      const listening = example.listen(port, '127.0.0.1', () => resolve(listening));
    });
    try {
      const client = await registerClient(gatehouse);
      const minted = await mintTokens(gatehouse, resource, { client_id: client.client_id, subject: 'user-express', scopes: ['projects:read', 'projects:write'] });
      const sdk = new Client({ name: 'e2e', version: '1.0.0' });
      await sdk.connect(new StreamableHTTPClientTransport(new URL(resource.resource), { requestInit: { headers: { authorization: `Bearer ${minted.accessToken}` } } }));
      const created = await sdk.callTool({ name: 'create_project', arguments: { name: 'Alpha' } });
      assert.equal(created.isError, undefined, JSON.stringify(created));
      assert.deepEqual(JSON.parse((created.content as Array<{ text: string }>)[0]!.text), { id: 1, name: 'Alpha', owner: minted.claims.sub });
      const listed = await sdk.callTool({ name: 'list_projects', arguments: {} });
      assert.deepEqual(JSON.parse((listed.content as Array<{ text: string }>)[0]!.text), [{ id: 1, name: 'Alpha', owner: minted.claims.sub }]);
      await sdk.close();

      const get = await fetch(resource.resource, { headers: { authorization: `Bearer ${minted.accessToken}` } });
      assert.equal(get.status, 405);
      assert.equal(get.headers.get('allow'), 'POST');
      const metadata = (await (await fetch(`http://127.0.0.1:${port}/.well-known/oauth-protected-resource/mcp`)).json()) as { scopes_supported: string[] };
      assert.deepEqual(metadata.scopes_supported, ['projects:read', 'projects:write']);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
