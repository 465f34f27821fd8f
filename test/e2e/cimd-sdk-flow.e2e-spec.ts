import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { auth } from '@modelcontextprotocol/sdk/client/auth.js';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { FakeGithub } from '../fakes/fake-github.js';
import { clientDocument, FakeClientMetadataHost } from '../fakes/client-metadata-host.js';
import { Browser } from '../support/browser.js';
import { auditEvents } from '../support/flows.js';
import { createResource, MemoryLogger, startGatehouse, type DatabaseKind, type RunningGatehouse } from '../support/gatehouse.js';
import { postgresUnavailable } from '../support/postgres.js';
import { FakeResourceServer } from '../support/resource-server.js';
import { InMemoryOAuthProvider } from '../support/sdk-provider.js';

/**
 * The MCP TypeScript SDK with `clientMetadataUrl`: it sees `client_id_metadata_document_supported`, uses the URL
 * as its client_id instead of registering, and Gatehouse fetches the document from a real https host (loopback,
 * self-signed certificate trusted through CIMD_EXTRA_CA_FILE, loopback allowed by CIMD_ALLOW_LOOPBACK).
 */
for (const database of ['pglite', 'postgres'] as DatabaseKind[]) {
  describe(`MCP SDK client with a client metadata document, end to end (${database})`, { skip: database === 'postgres' && postgresUnavailable() }, () => {
    let github: FakeGithub;
    let host: FakeClientMetadataHost;
    let gatehouse: RunningGatehouse;
    let mcp: FakeResourceServer;
    const logs = new MemoryLogger();

    before(async () => {
      github = await new FakeGithub().start();
      host = await new FakeClientMetadataHost().start();
      gatehouse = await startGatehouse({ database, github, logger: logs, env: host.env });
      mcp = await new FakeResourceServer(gatehouse.url, ['tools:read', 'tools:execute']).start();
      await createResource(gatehouse, { resource: mcp.resource, scopes: ['tools:read', 'tools:execute'], default_scopes: ['tools:read'] });
    });

    after(async () => {
      await gatehouse?.close();
      await mcp?.stop();
      await host?.stop();
      await github?.stop();
    });

    it('discovers, identifies itself by URL without registering, authorizes through GitHub and consent, exchanges the code, and refreshes', async () => {
      const redirectUrl = 'http://127.0.0.1:33420/callback';
      const path = '/oauth/sdk-client.json';
      const documentUrl = host.url(path);
      host.serveDocument(path, clientDocument(documentUrl, { client_name: 'SDK CIMD client', redirect_uris: [redirectUrl] }), {
        headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'max-age=3600' },
      });
      const provider = new InMemoryOAuthProvider(
        redirectUrl,
        { client_name: 'SDK CIMD client', redirect_uris: [redirectUrl], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' },
        documentUrl,
      );

      assert.equal(await auth(provider, { serverUrl: mcp.resource }), 'REDIRECT');
      assert.equal(provider.client?.client_id, documentUrl, 'the SDK used its metadata document URL as client_id');
      const authorizationUrl = provider.authorizationUrl!;
      assert.equal(authorizationUrl.origin, gatehouse.url);
      assert.equal(authorizationUrl.searchParams.get('client_id'), documentUrl);

      const browser = new Browser();
      const callback = await browser.authorize(authorizationUrl.href, redirectUrl);
      assert.equal(callback.searchParams.get('iss'), gatehouse.url);
      assert.equal(callback.searchParams.get('state'), authorizationUrl.searchParams.get('state'));
      const code = callback.searchParams.get('code');
      assert.ok(code, `a code at the client: ${callback.href}`);

      // The consent page named who vouches for the client (its URL's host) and warned about the loopback redirect.
      const consent = browser.pages.find((page) => page.html.includes('name="csrf_token"'));
      assert.ok(consent, 'the consent page was shown');
      assert.ok(consent.html.includes(`identified by <strong>localhost:${host.port}</strong>`), 'the document host is shown prominently');
      assert.ok(consent.html.includes(documentUrl), 'the document URL is shown');
      assert.ok(consent.html.includes('sent to <strong>127.0.0.1:33420</strong>'), 'the redirect host is shown');
      assert.match(consent.html, /This application runs on your computer/);

      assert.equal(await auth(provider, { serverUrl: mcp.resource, authorizationCode: code }), 'AUTHORIZED');
      const first = provider.savedTokens!;
      assert.ok(first.refresh_token, 'the document lists the refresh_token grant');
      const jwks = createRemoteJWKSet(new URL(`${gatehouse.url}/.well-known/jwks.json`));
      const { payload } = await jwtVerify(first.access_token, jwks, { issuer: gatehouse.url, audience: mcp.resource, typ: 'at+jwt', algorithms: ['ES256'] });
      assert.equal(payload.client_id, documentUrl, 'the token names the URL as its client');

      assert.equal(await auth(provider, { serverUrl: mcp.resource }), 'AUTHORIZED');
      const second = provider.savedTokens!;
      assert.notEqual(second.access_token, first.access_token);
      assert.ok(second.refresh_token && second.refresh_token !== first.refresh_token, 'the refresh token rotated');
      const refreshed = await jwtVerify(second.access_token, jwks, { issuer: gatehouse.url, audience: mcp.resource, typ: 'at+jwt' });
      assert.equal(refreshed.payload.grant_id, payload.grant_id);

      // No registration: no dynamic client exists; the URL client is recorded as a metadata document, without secrets.
      const kinds = (await gatehouse.db.query('SELECT kind, count(*)::int AS n FROM clients GROUP BY kind')) as Array<{ kind: string; n: number }>;
      assert.deepEqual(kinds, [{ kind: 'metadata_document', n: 1 }]);
      const rows = (await gatehouse.db.query('SELECT secret_hash, registration_token_hash, metadata, metadata_expires_at FROM clients WHERE id = $1', [documentUrl])) as Array<{
        secret_hash: string | null;
        registration_token_hash: string | null;
        metadata: { client_name: string; token_endpoint_auth_method: string };
        metadata_expires_at: Date;
      }>;
      assert.equal(rows[0]?.secret_hash, null);
      assert.equal(rows[0]?.registration_token_hash, null);
      assert.equal(rows[0]?.metadata.client_name, 'SDK CIMD client');
      assert.equal(rows[0]?.metadata.token_endpoint_auth_method, 'none');
      const ttl = (new Date(rows[0]!.metadata_expires_at).getTime() - Date.now()) / 1000;
      assert.ok(ttl > 3500 && ttl <= 3600, `cached for the document's max-age=3600, got ${ttl}`);

      // Fetched once (authorize); the code exchange and the refresh used the recorded copy. Fetched as JSON.
      assert.equal(host.count(path), 1);
      assert.equal(host.requests[0]?.accept, 'application/json');
      const fetched = await auditEvents(gatehouse, 'client.metadata_fetched');
      assert.equal(fetched.length, 1);
      assert.equal(fetched[0]?.client_id, documentUrl);
      assert.deepEqual(fetched[0]?.data, { url: documentUrl, cache_seconds: 3600 }, 'the event names the URL, not the document');

      const secrets = [first.access_token, first.refresh_token, second.access_token, second.refresh_token, code];
      for (const secret of secrets) assert.ok(secret && !logs.lines.some((line) => line.includes(secret)), 'a secret value appeared in the logs');
    });
  });
}
