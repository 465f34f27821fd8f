import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { GatehouseError, introspectToken, mintToken, refreshToken, revokeToken } from 'gatehouse-client';
import { createResource, startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { registerClient, type TestClient } from '../support/flows.js';
import { freePort } from '../support/net.js';

const RESOURCE = 'https://projects.example.com/mcp';

describe('gatehouse-client: a product backend mints tokens for its own users', () => {
  let gatehouse: RunningGatehouse;
  let resource: { id: string; registration_secret: string };
  let client: TestClient;

  before(async () => {
    gatehouse = await startGatehouse();
    resource = await createResource(gatehouse, { resource: RESOURCE, scopes: ['projects:read', 'projects:write'], default_scopes: ['projects:read'] });
    client = await registerClient(gatehouse);
  });
  after(async () => {
    await gatehouse?.close();
  });

  it('mints, verifies against the JWKS, refreshes, and revokeToken() stops both introspection and refresh', async () => {
    // The seed's backend route, as test code: the product already knows its user is "user-42".
    const minted = await mintToken({
      baseUrl: gatehouse.url,
      registrationSecret: resource.registration_secret,
      clientId: client.client_id,
      subject: 'user-42',
      scopes: ['projects:read', 'projects:write'],
    });
    assert.equal(minted.tokenType, 'Bearer');
    assert.equal(minted.expiresIn, 3600);
    assert.equal(minted.scope, 'projects:read projects:write');
    assert.ok(minted.refreshToken);

    const jwks = createRemoteJWKSet(new URL(`${gatehouse.url}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(minted.accessToken, jwks, { issuer: gatehouse.url, audience: RESOURCE, typ: 'at+jwt' });
    const identity = (await gatehouse.db.query(`SELECT user_id FROM user_identities WHERE provider = 'external' AND subject = $1`, [`${resource.id}:user-42`])) as Array<{ user_id: string }>;
    assert.ok(identity[0]?.user_id, "the product's user is a Gatehouse user");
    assert.equal(payload.sub, 'user-42', "sub is the product's own subject for its user");
    assert.equal(payload.client_id, client.client_id);

    const refreshed = await refreshToken({ baseUrl: gatehouse.url, clientId: client.client_id, refreshToken: minted.refreshToken! });
    assert.notEqual(refreshed.refreshToken, minted.refreshToken);
    assert.equal((await jwtVerify(refreshed.accessToken, jwks, { audience: RESOURCE })).payload.sub, payload.sub);

    const active = await introspectToken({ baseUrl: gatehouse.url, token: refreshed.accessToken, registrationSecret: resource.registration_secret });
    assert.equal(active.active, true);
    assert.ok(active.active && active.sub === payload.sub && active.aud === RESOURCE && active.clientId === client.client_id);

    // On logout in the product: revoke the refresh token, which takes the grant's access tokens with it.
    await revokeToken({ baseUrl: gatehouse.url, token: refreshed.refreshToken!, clientId: client.client_id });
    assert.deepEqual(await introspectToken({ baseUrl: gatehouse.url, token: refreshed.accessToken, registrationSecret: resource.registration_secret }), { active: false });
    await assert.rejects(
      refreshToken({ baseUrl: gatehouse.url, clientId: client.client_id, refreshToken: refreshed.refreshToken! }),
      (error: unknown) => error instanceof GatehouseError && error.error === 'invalid_grant' && error.status === 400,
    );
  });

  it('revokes with the registration secret too, and types every failure', async () => {
    const minted = await mintToken({ baseUrl: `${gatehouse.url}/`, registrationSecret: resource.registration_secret, clientId: client.client_id, subject: 'user-7' });
    assert.equal(minted.scope, 'projects:read', 'default scopes when none are asked for');
    await revokeToken({ baseUrl: gatehouse.url, token: minted.accessToken, registrationSecret: resource.registration_secret });
    assert.deepEqual(await introspectToken({ baseUrl: gatehouse.url, token: minted.accessToken, resourceId: resource.id, registrationSecret: resource.registration_secret }), { active: false });

    const closedPort = await freePort();
    // Thunks, run one at a time: each rejection is awaited as it happens.
    const failures: Array<[() => Promise<unknown>, string, number]> = [
      [() => mintToken({ baseUrl: gatehouse.url, registrationSecret: 'gh_rs_wrong', clientId: client.client_id, subject: 'u' }), 'invalid_token', 401],
      [() => mintToken({ baseUrl: gatehouse.url, registrationSecret: resource.registration_secret, clientId: 'no-such-client', subject: 'u' }), 'invalid_client', 400],
      [() => mintToken({ baseUrl: gatehouse.url, registrationSecret: resource.registration_secret, clientId: client.client_id, subject: 'u', scopes: ['admin'] }), 'invalid_scope', 400],
      [() => mintToken({ baseUrl: gatehouse.url, registrationSecret: resource.registration_secret, clientId: client.client_id, subject: 'x'.repeat(10_000) }), 'invalid_request', 400],
      [() => introspectToken({ baseUrl: gatehouse.url, token: 'x', registrationSecret: 'gh_rs_wrong' }), 'invalid_token', 401],
      [() => mintToken({ baseUrl: `http://127.0.0.1:${closedPort}`, registrationSecret: 'gh_rs_x', clientId: 'c', subject: 'u' }), 'network_error', 0],
    ];
    for (const [attempt, code, status] of failures) {
      await assert.rejects(attempt(), (error: unknown) => {
        assert.ok(error instanceof GatehouseError, String(error));
        assert.equal(error.error, code);
        assert.equal(error.status, status);
        return true;
      });
    }
  });
});
