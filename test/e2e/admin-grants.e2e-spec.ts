import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { createResource, startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import {
  assertOAuthError,
  databaseCounts,
  grantUserId,
  isActive,
  mintTokens,
  readJson,
  refreshTokens,
  registerClient,
  type MintedTokens,
  type TestClient,
  type TestResource,
  type TokenCaller,
} from '../support/flows.js';

/**
 * The admin grant API: list a user's grants, revoke all of a user's grants (account deactivation), revoke all of a
 * client's grants. Revoking a grant takes its refresh-token family and every access token minted from it with it.
 */
describe('admin grants (pglite)', () => {
  let gatehouse: RunningGatehouse;
  let resourceA: TestResource;
  let resourceB: TestResource;
  let clientC: TestClient;
  let clientD: TestClient;

  before(async () => {
    gatehouse = await startGatehouse();
    resourceA = await createResource(gatehouse, { name: 'A', resource: 'https://a.example.test/mcp', scopes: ['tools:read', 'tools:execute'], default_scopes: ['tools:read'] });
    resourceB = await createResource(gatehouse, { name: 'B', resource: 'https://b.example.test/mcp', scopes: ['tools:read'], default_scopes: ['tools:read'] });
    clientC = await registerClient(gatehouse, { client_name: 'C', token_endpoint_auth_method: 'client_secret_basic' });
    clientD = await registerClient(gatehouse, { client_name: 'D', token_endpoint_auth_method: 'client_secret_post' });
  });
  after(async () => {
    await gatehouse?.close();
  });

  const mint = (resource: TestResource, client: TestClient, subject: string, scopes?: string[]) =>
    mintTokens(gatehouse, resource, { client_id: client.client_id, subject, ...(scopes ? { scopes } : {}) });
  const introspector = (resource: TestResource): TokenCaller => ({ resource, via: 'bearer' });
  const clientOf = (minted: MintedTokens) => (minted.claims.client_id === clientC.client_id ? clientC : clientD);

  async function assertLive(minted: MintedTokens, resource: TestResource, where: string): Promise<void> {
    assert.equal(await isActive(gatehouse, introspector(resource), minted.accessToken), true, `${where}: access token active`);
    assert.equal(await isActive(gatehouse, introspector(resource), minted.refreshToken), true, `${where}: refresh token active`);
  }

  async function assertDead(minted: MintedTokens, resource: TestResource, where: string): Promise<void> {
    assert.equal(await isActive(gatehouse, introspector(resource), minted.accessToken), false, `${where}: access token inactive`);
    assert.equal(await isActive(gatehouse, { client: clientOf(minted) }, minted.accessToken), false, `${where}: access token inactive for its client`);
    assert.equal(await isActive(gatehouse, introspector(resource), minted.refreshToken), false, `${where}: refresh token inactive`);
    assertOAuthError(await refreshTokens(gatehouse, { client: clientOf(minted) }, minted.refreshToken), 400, 'invalid_grant', `${where}: refresh`);
  }

  async function grantEvents(grantId: string): Promise<Array<{ data: Record<string, unknown> }>> {
    return (await gatehouse.db.query(`SELECT data FROM audit_events WHERE type = 'grant.revoked' AND data->>'grant_id' = $1`, [grantId])) as Array<{ data: Record<string, unknown> }>;
  }

  it('lists a user’s grants, oldest first, and revokes them all: their tokens go inactive and refresh fails', async () => {
    const alice = `alice-${randomUUID()}`;
    const first = await mint(resourceA, clientC, alice, ['tools:read', 'tools:execute']);
    const second = await mint(resourceA, clientD, alice);
    const third = await mint(resourceA, clientC, alice);
    const bob = await mint(resourceA, clientC, `bob-${randomUUID()}`);
    // The same product user id at resource B is another Gatehouse user, untouched by revoking alice at A.
    const aliceAtB = await mint(resourceB, clientC, alice);
    const userId = await grantUserId(gatehouse, first.claims.grant_id);
    assert.equal(await grantUserId(gatehouse, second.claims.grant_id), userId);
    assert.notEqual(await grantUserId(gatehouse, aliceAtB.claims.grant_id), userId);

    const listed = await gatehouse.admin('GET', `/admin/users/${userId}/grants`);
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
    assert.ok(Array.isArray(listed.body));
    assert.deepEqual(
      listed.body.map((grant: Record<string, unknown>) => grant.id),
      [first, second, third].map((minted) => minted.claims.grant_id),
      'exactly alice’s grants at A, oldest first',
    );
    const [view] = listed.body as Array<Record<string, unknown>>;
    assert.deepEqual(Object.keys(view ?? {}).sort(), ['client_id', 'created_at', 'id', 'resource_id', 'revoked_at', 'revoked_reason', 'scopes']);
    assert.deepEqual({ ...view, created_at: undefined }, {
      id: first.claims.grant_id,
      client_id: clientC.client_id,
      resource_id: resourceA.id,
      scopes: ['tools:read', 'tools:execute'],
      created_at: undefined,
      revoked_at: null,
      revoked_reason: null,
    });
    assert.ok(!Number.isNaN(Date.parse(String(view?.created_at))));
    for (const minted of [first, second, third]) await assertLive(minted, resourceA, 'before');

    const before = await databaseCounts(gatehouse);
    const revoked = await gatehouse.admin('DELETE', `/admin/users/${userId}/grants`);
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    const bulk = (await gatehouse.db.query(`SELECT subject, data FROM audit_events WHERE type = 'admin.grants_revoked'`)) as Array<{ subject: string; data: { revoked: number } }>;
    assert.deepEqual(bulk, [{ subject: userId, data: { revoked: 3, consents_cleared: 0 } }], 'one admin event for the bulk revocation');
    assert.deepEqual(revoked.body, { revoked: 3, consents_cleared: 0 });
    assert.equal((await databaseCounts(gatehouse))['grants.revoked'], before['grants.revoked']! + 3);
    for (const [name, minted] of [['first', first], ['second', second], ['third', third]] as const) {
      await assertDead(minted, resourceA, name);
      assert.deepEqual((await grantEvents(minted.claims.grant_id)).map((event) => event.data.reason), ['revoked_by_admin'], `${name}: audited once`);
    }
    await assertLive(bob, resourceA, 'another user');
    await assertLive(aliceAtB, resourceB, 'the same product id at another resource');

    const after = await gatehouse.admin('GET', `/admin/users/${userId}/grants`);
    assert.equal(after.body.length, 3, 'revoked grants are still listed');
    for (const grant of after.body as Array<Record<string, unknown>>) {
      assert.ok(grant.revoked_at && !Number.isNaN(Date.parse(String(grant.revoked_at))), 'revoked_at set');
      assert.equal(grant.revoked_reason, 'revoked_by_admin');
    }

    const settled = await databaseCounts(gatehouse);
    assert.deepEqual((await gatehouse.admin('DELETE', `/admin/users/${userId}/grants`)).body, { revoked: 0, consents_cleared: 0 }, 'revoking again revokes nothing');
    assert.deepEqual(await databaseCounts(gatehouse), settled, 'and audits nothing');
  });

  it('revokes every grant of a client, at every resource, and no other client’s', async () => {
    const carol = `carol-${randomUUID()}`;
    const atA = await mint(resourceA, clientD, carol);
    const atB = await mint(resourceB, clientD, `dave-${randomUUID()}`);
    const rotated = await refreshTokens(gatehouse, { client: clientD }, atA.refreshToken);
    assert.equal(rotated.status, 200, rotated.text);
    const successor: MintedTokens = { ...atA, accessToken: rotated.body.access_token, refreshToken: rotated.body.refresh_token };
    const otherClients = await mint(resourceA, clientC, carol);

    const revoked = await gatehouse.admin('DELETE', `/admin/clients/${encodeURIComponent(clientD.client_id)}/grants`);
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    // D's only other grant (alice's, in the test before) is already revoked: exactly the two live ones here.
    assert.deepEqual(revoked.body, { revoked: 2, consents_cleared: 0 });
    const live = (await gatehouse.db.query('SELECT count(*)::int AS n FROM grants WHERE client_id = $1 AND revoked_at IS NULL', [clientD.client_id])) as Array<{ n: number }>;
    assert.equal(live[0]?.n, 0, 'no live grant of the client is left');
    await assertDead(successor, resourceA, 'rotated family at A');
    assert.equal(await isActive(gatehouse, introspector(resourceA), atA.accessToken), false, 'the access token from before the rotation');
    await assertDead(atB, resourceB, 'grant at B');
    await assertLive(otherClients, resourceA, 'another client’s grant for the same user');
    assert.equal((await grantEvents(atB.claims.grant_id)).length, 1);

    assert.deepEqual((await gatehouse.admin('DELETE', `/admin/clients/${encodeURIComponent(clientD.client_id)}/grants`)).body, { revoked: 0, consents_cleared: 0 });
  });

  it('answers 404 for unknown users and clients and for malformed ids, and writes nothing', async () => {
    const before = await databaseCounts(gatehouse);
    for (const id of [randomUUID(), 'not-a-uuid', '123', `${randomUUID()}x`, "x'; DROP TABLE grants; --", '%00']) {
      for (const method of ['GET', 'DELETE']) {
        const response = await readJson(
          await fetch(`${gatehouse.url}/admin/users/${encodeURIComponent(id)}/grants`, { method, headers: { authorization: `Bearer ${gatehouse.adminToken}` } }),
        );
        assertOAuthError(response, 404, 'not_found', `${method} user ${JSON.stringify(id)}`);
      }
    }
    for (const id of [randomUUID(), 'no-such-client', 'https://client.example/metadata.json', '%00', 'a\u0000b']) {
      const response = await readJson(
        await fetch(`${gatehouse.url}/admin/clients/${encodeURIComponent(id)}/grants`, { method: 'DELETE', headers: { authorization: `Bearer ${gatehouse.adminToken}` } }),
      );
      assertOAuthError(response, 404, 'not_found', `client ${JSON.stringify(id)}`);
    }
    assert.deepEqual(await databaseCounts(gatehouse), before);
  });

  it('requires the admin token', async () => {
    const minted = await mint(resourceA, clientC, `erin-${randomUUID()}`);
    const userId = await grantUserId(gatehouse, minted.claims.grant_id);
    const before = await databaseCounts(gatehouse);
    for (const [method, path] of [
      ['GET', `/admin/users/${userId}/grants`],
      ['DELETE', `/admin/users/${userId}/grants`],
      ['DELETE', `/admin/clients/${clientC.client_id}/grants`],
    ] as const) {
      for (const authorization of [undefined, `Bearer ${gatehouse.adminToken}x`, `Bearer ${resourceA.registration_secret}`]) {
        const response = await readJson(await fetch(`${gatehouse.url}${path}`, { method, headers: authorization ? { authorization } : {} }));
        assertOAuthError(response, 401, 'invalid_token', `${method} ${path} with ${authorization ? 'a wrong token' : 'no token'}`);
      }
    }
    assert.deepEqual(await databaseCounts(gatehouse), before);
    await assertLive(minted, resourceA, 'after refused admin calls');
  });
});
