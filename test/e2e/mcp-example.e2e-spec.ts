import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { FakeGithub } from '../fakes/fake-github.js';
import { Browser } from '../support/browser.js';
import { createResource, startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { startExampleMcpServer, type RunningExampleMcp } from '../support/example-mcp.js';
import { InMemoryOAuthProvider } from '../support/sdk-provider.js';

/**
 * This provider keeps access tokens but not refresh tokens. The SDK (1.32) answers a 403 insufficient_scope by
 * calling auth() again, and auth() refreshes when it holds a refresh token: that returns the same scopes and the
 * retry fails. Without a refresh token it starts a new authorization for the scope the 403 names (step-up).
 */
class AccessTokenOnlyProvider extends InMemoryOAuthProvider {
  override saveTokens(tokens: OAuthTokens): void {
    const { refresh_token: _dropped, ...rest } = tokens;
    this.savedTokens = rest;
  }
}

describe('example MCP server behind gatehouse-guard, driven by the MCP SDK client', () => {
  let github: FakeGithub;
  let gatehouse: RunningGatehouse;
  let mcp: RunningExampleMcp;
  let mcpUrl: URL;

  before(async () => {
    github = await new FakeGithub().start();
    gatehouse = await startGatehouse({ github });
    mcp = await startExampleMcpServer(gatehouse);
    mcpUrl = mcp.url;
  });
  after(async () => {
    await mcp?.close();
    await gatehouse?.close();
    await github?.stop();
  });

  it('answers 401 with the PRM, lets the SDK register and authorize, lists and calls tools, and steps up on 403', async () => {
    const redirectUrl = 'http://127.0.0.1:33419/callback';
    const provider = new AccessTokenOnlyProvider(redirectUrl, {
      client_name: 'MCP example e2e',
      redirect_uris: [redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    });
    const browser = new Browser();
    const client = new Client({ name: 'e2e', version: '1.0.0' });

    // 1. First contact: 401, then discovery (PRM → Gatehouse), registration, and a redirect for the user.
    const first = new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider });
    await assert.rejects(client.connect(first), UnauthorizedError);
    assert.ok(provider.client?.client_id, 'registered dynamically with Gatehouse');
    assert.equal(provider.authorizationUrl?.searchParams.get('scope'), 'projects:read', 'asked for the scope the 401 named');
    assert.equal(provider.authorizationUrl?.searchParams.get('resource'), mcpUrl.href);
    const callback = await browser.authorize(provider.authorizationUrl!.href, redirectUrl);
    await first.finishAuth(callback.searchParams.get('code')!);

    // 2. Connected with a projects:read token.
    await client.connect(new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider }));
    const tools = await client.listTools();
    assert.deepEqual(tools.tools.map((tool) => tool.name).sort(), ['create_project', 'list_projects']);
    const listed = await client.callTool({ name: 'list_projects', arguments: {} });
    assert.equal(listed.isError, undefined);
    assert.deepEqual(JSON.parse((listed.content as Array<{ text: string }>)[0]!.text), []);

    // 3. create_project needs projects:write: 403 insufficient_scope, the SDK starts a new authorization for it.
    provider.authorizationUrl = undefined;
    await assert.rejects(client.callTool({ name: 'create_project', arguments: { name: 'Apollo' } }), UnauthorizedError);
    assert.deepEqual(provider.authorizationUrl!.searchParams.get('scope')?.split(' ').sort(), ['projects:read', 'projects:write']);
    const consentAgain = await browser.authorize(provider.authorizationUrl!.href, redirectUrl);
    await client.transport!.close();
    const upgraded = new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider });
    await upgraded.finishAuth(consentAgain.searchParams.get('code')!);
    await client.connect(upgraded);

    const created = await client.callTool({ name: 'create_project', arguments: { name: 'Apollo' } });
    assert.equal(created.isError, undefined, JSON.stringify(created));
    const project = JSON.parse((created.content as Array<{ text: string }>)[0]!.text) as { name: string; owner: string };
    assert.equal(project.name, 'Apollo');
    const after = await client.callTool({ name: 'list_projects', arguments: {} });
    assert.deepEqual((JSON.parse((after.content as Array<{ text: string }>)[0]!.text) as Array<{ name: string }>).map((p) => p.name), ['Apollo']);
    await client.close();
  });

  it('serves Protected Resource Metadata at the path-suffixed and the root well-known URLs', async () => {
    for (const path of ['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource']) {
      const response = await fetch(new URL(path, mcpUrl));
      assert.equal(response.status, 200, path);
      assert.deepEqual(await response.json(), {
        resource: mcpUrl.href,
        authorization_servers: [gatehouse.url],
        bearer_methods_supported: ['header'],
        dpop_signing_alg_values_supported: ['ES256', 'RS256', 'PS256', 'EdDSA'],
        scopes_supported: ['projects:read', 'projects:write'],
        resource_name: 'Projects (Gatehouse example)',
      });
    }
  });

  it('refuses a token minted for another MCP server (no token passthrough)', async () => {
    const other = await createResource(gatehouse, { name: 'Other', resource: 'https://other.example.com/mcp', scopes: ['projects:read'], default_scopes: ['projects:read'] });
    const client = await (await fetch(`${gatehouse.url}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: ['http://127.0.0.1/cb'], token_endpoint_auth_method: 'none' }),
    })).json() as { client_id: string };
    const minted = await (await fetch(`${gatehouse.url}/api/oauth/token/exchange`, {
      method: 'POST',
      headers: { authorization: `Bearer ${other.registration_secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: client.client_id, subject: 'someone', scopes: ['projects:read'] }),
    })).json() as { access_token: string };
    const response = await fetch(mcpUrl, {
      method: 'POST',
      headers: { authorization: `Bearer ${minted.access_token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    assert.equal(response.status, 401);
    assert.equal(
      response.headers.get('www-authenticate'),
      `Bearer error="invalid_token", error_description="token was issued for another resource", scope="projects:read", resource_metadata="${mcpUrl.origin}/.well-known/oauth-protected-resource/mcp"`,
    );
  });
});
