import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { FakeGithub } from '../fakes/fake-github.js';
import { clientDocument, FakeClientMetadataHost } from '../fakes/client-metadata-host.js';
import { createResource, startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { exchangeCode, loopbackRedirectUri, obtainCode, type TestClient } from '../support/flows.js';

/**
 * DYNAMIC_REGISTRATION=false: POST /register does not exist and the metadata stops advertising it, while
 * pre-registered and metadata-document clients, and the clients registered before it was switched off, keep working.
 */
describe('dynamic registration switched off (DYNAMIC_REGISTRATION=false)', () => {
  let github: FakeGithub;
  let host: FakeClientMetadataHost;
  let gatehouse: RunningGatehouse;
  let resource: string;

  before(async () => {
    github = await new FakeGithub().start();
    host = await new FakeClientMetadataHost().start();
    gatehouse = await startGatehouse({ github, env: { ...host.env, DYNAMIC_REGISTRATION: 'false' } });
    resource = (await createResource(gatehouse, { resource: 'https://mcp.no-dcr.test/mcp', scopes: ['tools:read'], default_scopes: ['tools:read'] })).resource;
  });
  after(async () => {
    await gatehouse?.close();
    await host?.stop();
    await github?.stop();
  });

  it('has no POST /register: 404 every time (no rate-limit budget to spend), no CORS preflight, nothing written', async () => {
    const before = await gatehouse.count('clients');
    for (let i = 0; i < 40; i++) {
      const response = await fetch(`${gatehouse.url}/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ redirect_uris: ['http://127.0.0.1/cb'], token_endpoint_auth_method: 'none' }),
      });
      assert.equal(response.status, 404, `request ${i + 1}`);
      assert.equal(((await response.json()) as { error: string }).error, 'not_found');
    }
    assert.equal(await gatehouse.count('clients'), before);
    const preflight = await fetch(`${gatehouse.url}/register`, {
      method: 'OPTIONS',
      headers: { origin: 'https://inspector.example.test', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    assert.notEqual(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), null);
  });

  it('leaves registration_endpoint out of the metadata, and still says CIMD is supported', async () => {
    const metadata = (await (await fetch(`${gatehouse.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    assert.equal('registration_endpoint' in metadata, false);
    assert.equal(metadata.client_id_metadata_document_supported, true);
    assert.equal(metadata.token_endpoint, `${gatehouse.url}/token`);
  });

  it('lets a pre-registered client complete the authorization code flow', async () => {
    const created = await gatehouse.admin('POST', '/admin/clients', { client_name: 'Pre-registered', redirect_uris: [loopbackRedirectUri()], token_endpoint_auth_method: 'none' });
    assert.equal(created.status, 201);
    const client = created.body as TestClient;
    const tokens = await exchangeCode(gatehouse, { client }, await obtainCode(gatehouse, { client, resource }));
    assert.equal(tokens.status, 200, tokens.text);
    assert.ok(tokens.body.access_token);
  });

  it('lets a client metadata document client complete the authorization code flow', async () => {
    const redirectUri = loopbackRedirectUri();
    const url = host.url('/no-dcr/client.json');
    host.serveDocument('/no-dcr/client.json', clientDocument(url, { redirect_uris: [redirectUri] }));
    const client = { client_id: url, redirect_uris: [redirectUri], token_endpoint_auth_method: 'none' } as unknown as TestClient;
    const tokens = await exchangeCode(gatehouse, { client }, await obtainCode(gatehouse, { client, resource }));
    assert.equal(tokens.status, 200, tokens.text);
    assert.ok(tokens.body.access_token);
  });

  it('keeps the RFC 7592 endpoint of a client registered before registration was switched off', async () => {
    const { ClientsService } = await import('../../src/registration/clients.service.js');
    const clients = gatehouse.app.get(ClientsService);
    const earlier = clients.view(await clients.register({ redirect_uris: ['http://127.0.0.1/cb'], token_endpoint_auth_method: 'none' }, 'dynamic'));
    const read = await fetch(String(earlier.registration_client_uri), { headers: { authorization: `Bearer ${String(earlier.registration_access_token)}` } });
    assert.equal(read.status, 200);
    assert.equal(((await read.json()) as { client_id: string }).client_id, earlier.client_id);
  });
});
