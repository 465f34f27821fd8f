import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { auth } from '@modelcontextprotocol/sdk/client/auth.js';
import { decodeJwt } from 'jose';
import { FakeGithub } from '../fakes/fake-github.js';
import { Browser } from '../support/browser.js';
import { createResource, startGatehouse, type DatabaseKind, type RunningGatehouse } from '../support/gatehouse.js';
import { postgresUnavailable } from '../support/postgres.js';
import { FakeResourceServer } from '../support/resource-server.js';
import { InMemoryOAuthProvider } from '../support/sdk-provider.js';
import { auditEvents } from '../support/flows.js';
import { ClientsHousekeeping } from '../../src/registration/clients-housekeeping.js';

/**
 * An MCP client that saved its registration and tokens, was away long enough for Gatehouse to expire its client,
 * and comes back: the MCP TypeScript SDK's refresh gets 401 invalid_client, the SDK forgets the client, registers
 * again and sends the user through authorization — nobody has to clear anything by hand.
 */
for (const database of ['pglite', 'postgres'] as DatabaseKind[]) {
  describe(`MCP SDK client whose registration expired (${database})`, { skip: database === 'postgres' && postgresUnavailable() }, () => {
    let github: FakeGithub;
    let gatehouse: RunningGatehouse;
    let mcp: FakeResourceServer;

    before(async () => {
      github = await new FakeGithub().start();
      gatehouse = await startGatehouse({ database, github });
      mcp = await new FakeResourceServer(gatehouse.url, ['tools:read']).start();
      await createResource(gatehouse, { resource: mcp.resource, scopes: ['tools:read'], default_scopes: ['tools:read'] });
    });
    after(async () => {
      await gatehouse?.close();
      await mcp?.stop();
      await github?.stop();
    });

    it('gets invalid_client for the saved client, registers again and completes authorization', async () => {
      const redirectUrl = 'http://127.0.0.1:33419/callback';
      const provider = new InMemoryOAuthProvider(redirectUrl, {
        client_name: 'SDK client that goes away',
        redirect_uris: [redirectUrl],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
      });
      const authorize = async (): Promise<void> => {
        const url = provider.authorizationUrl!;
        const code = (await new Browser().authorize(url.href, redirectUrl)).searchParams.get('code');
        assert.ok(code);
        assert.equal(await auth(provider, { serverUrl: mcp.resource, authorizationCode: code }), 'AUTHORIZED');
      };

      assert.equal(await auth(provider, { serverUrl: mcp.resource }), 'REDIRECT');
      await authorize();
      const oldClientId = provider.client!.client_id;
      assert.ok(provider.savedTokens?.refresh_token);

      // Time passes: the refresh token expires and the client is not used for longer than DCR_IDLE_CLIENT_DAYS.
      await gatehouse.db.query(`UPDATE refresh_tokens SET expires_at = now() - interval '1 minute' WHERE grant_id IN (SELECT id FROM grants WHERE client_id = $1)`, [oldClientId]);
      await gatehouse.db.query(`UPDATE clients SET last_used_at = now() - interval '100 days' WHERE id = $1`, [oldClientId]);
      await gatehouse.app.get(ClientsHousekeeping).tick();
      assert.deepEqual((await auditEvents(gatehouse, 'client.expired')).map((event) => [event.client_id, event.data.reason]), [[oldClientId, 'idle']]);

      // The SDK still holds the old client and its (dead) refresh token.
      assert.equal(provider.client?.client_id, oldClientId);
      const answer = await auth(provider, { serverUrl: mcp.resource });
      assert.deepEqual(provider.invalidated, ['all'], 'invalid_client made the SDK forget the client and its tokens');
      assert.equal(answer, 'REDIRECT');
      const newClientId = provider.client!.client_id;
      assert.notEqual(newClientId, oldClientId, 'it registered again');
      assert.equal(provider.authorizationUrl!.searchParams.get('client_id'), newClientId);

      await authorize();
      assert.equal(decodeJwt(provider.savedTokens!.access_token).client_id, newClientId);
      const registered = await auditEvents(gatehouse, 'client.registered');
      assert.deepEqual(registered.map((event) => event.client_id), [oldClientId, newClientId]);
    });
  });
}
