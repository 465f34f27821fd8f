import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { createResource, startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { mintTokens } from '../support/flows.js';
import { queryAudit } from '../support/audit.js';

const RESOURCE = 'http://127.0.0.1:1/admin-keys-mcp';

/** POST /admin/keys/rotate: the CLI's `keys rotate` for a running server (the embedded database is locked by it). */
describe('signing-key rotation through the admin API', () => {
  let gatehouse: RunningGatehouse;
  let resource: { id: string; registration_secret: string };
  let clientId: string;

  before(async () => {
    gatehouse = await startGatehouse();
    resource = await createResource(gatehouse, { resource: RESOURCE, scopes: ['tools:read'], default_scopes: ['tools:read'] });
    const client = await gatehouse.admin('POST', '/admin/clients', { client_name: 'Keys client', redirect_uris: ['http://127.0.0.1:47015/cb'], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'] });
    assert.equal(client.status, 201, JSON.stringify(client.body));
    clientId = client.body.client_id;
  });
  after(async () => {
    await gatehouse?.close();
  });

  it('needs the admin token', async () => {
    const refused = await fetch(`${gatehouse.url}/admin/keys/rotate`, { method: 'POST' });
    assert.equal(refused.status, 401);
    assert.match(refused.headers.get('www-authenticate') ?? '', /^Bearer realm="gatehouse-admin"/);
  });

  it('retires the active key, signs with the published next key at once, publishes a fresh next key, and is audited', async () => {
    const published = ((await (await fetch(`${gatehouse.url}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> }).keys.map((k) => k.kid);
    const before = await mintTokens(gatehouse, resource, { client_id: clientId, subject: 'user-1' });

    const rotation = await gatehouse.admin('POST', '/admin/keys/rotate');
    assert.equal(rotation.status, 200, JSON.stringify(rotation.body));
    assert.deepEqual(Object.keys(rotation.body).sort(), ['active', 'next', 'retired']);
    assert.equal(rotation.body.retired, decodeProtectedHeader(before.accessToken).kid);
    assert.ok(published.includes(rotation.body.active), 'the key that now signs was published before it signed');
    assert.ok(!published.includes(rotation.body.next));

    const after = await mintTokens(gatehouse, resource, { client_id: clientId, subject: 'user-1' });
    assert.equal(decodeProtectedHeader(after.accessToken).kid, rotation.body.active);
    const jwks = createRemoteJWKSet(new URL(`${gatehouse.url}/.well-known/jwks.json`));
    for (const token of [before, after]) await jwtVerify(token.accessToken, jwks, { issuer: gatehouse.url, audience: RESOURCE });

    const [event] = await queryAudit(gatehouse, { type: 'signing_key.rotated' });
    assert.ok(event);
    assert.deepEqual(event.actor, { kind: 'admin', id: 'api' });
    assert.deepEqual(event.data, { retired: rotation.body.retired, active: rotation.body.active, next: rotation.body.next, alg: 'ES256' });
  });
});
