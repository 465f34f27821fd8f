import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { setTimeout as sleep } from 'node:timers/promises';
import { sha256 } from '../../src/common/crypto.js';
import { RECORD_CACHE_CHANNEL, RecordCache, type StoredKind } from '../../src/database/record-cache.js';
import { LISTENER_APPLICATION_NAME } from '../../src/database/record-cache-listener.js';
import { ClientsHousekeeping } from '../../src/registration/clients-housekeeping.js';
import { createResource, startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { postgresUnavailable } from '../support/postgres.js';
import { introspect, postJson, readJson, revoke, type ClientCredentials, type JsonResponse, type TestClient, type TestResource, type TokenCaller } from '../support/flows.js';

/**
 * The record cache through the running server: what a change made on one instance does to another instance's
 * cached clients and resource servers (two applications on one PostgreSQL database, each with its own cache and
 * listener), what a single instance on PGlite does, and what happens while the listener is down.
 *
 * Callers are checked with POST /revoke and /introspect of a token nobody issued: 200 once the caller has
 * authenticated, 401 when its credentials no longer hold.
 */

const TOKEN = 'not-a-token-anyone-issued';
/** How long a NOTIFY may take to reach the other instance before a test calls it missing. */
const DELIVERY_MS = 3000;

function cacheOf(gatehouse: RunningGatehouse): RecordCache {
  return gatehouse.app.get(RecordCache);
}

async function status(response: Promise<JsonResponse>): Promise<number> {
  return (await response).status;
}

/** Polls until `probe` answers `expected`, for at most DELIVERY_MS; returns what it answered last. */
async function eventually(probe: () => Promise<number>, expected: number): Promise<number> {
  const deadline = Date.now() + DELIVERY_MS;
  let last = await probe();
  while (last !== expected && Date.now() < deadline) {
    await sleep(20);
    last = await probe();
  }
  return last;
}

async function waitForMode(gatehouse: RunningGatehouse, mode: RecordCache['mode'], timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (cacheOf(gatehouse).mode !== mode) {
    if (Date.now() > deadline) assert.fail(`${gatehouse.url}: record cache still ${cacheOf(gatehouse).mode}, not ${mode}, after ${timeoutMs} ms`);
    await sleep(10);
  }
}

/**
 * Waits until `at` has applied every notification committed before this call (a change made on `from` announces
 * itself asynchronously; caching something at `at` before the announcement arrives would see it evicted by it).
 * PostgreSQL delivers notifications in commit order, so a sentinel evicted by a later NOTIFY proves the earlier ones
 * were applied.
 */
async function notificationsDelivered(from: RunningGatehouse, at: RunningGatehouse): Promise<void> {
  const sentinel = `delivery-barrier-${Date.now()}-${Math.random()}`;
  await cacheOf(at).read('client', sentinel, async () => ({ sentinel }));
  assertCached(at, 'client', sentinel, 'the barrier sentinel');
  await from.db.query('SELECT pg_notify($1, $2)', [RECORD_CACHE_CHANNEL, `client:${sentinel}`]);
  const deadline = Date.now() + DELIVERY_MS;
  while (cacheOf(at).has('client', sentinel)) {
    if (Date.now() > deadline) assert.fail(`${at.url} did not receive a notification within ${DELIVERY_MS} ms`);
    await sleep(5);
  }
}

function assertCached(gatehouse: RunningGatehouse, kind: StoredKind, key: string, what: string): void {
  assert.equal(cacheOf(gatehouse).has(kind, key), true, `${what} is cached at ${gatehouse.url} (otherwise this test proves nothing)`);
}

/** A pre-registered confidential client (client_secret_basic), created through the admin API. */
async function staticClient(gatehouse: RunningGatehouse): Promise<ClientCredentials> {
  const created = await gatehouse.admin('POST', '/admin/clients', {
    client_name: 'Cached client',
    redirect_uris: ['http://127.0.0.1:47111/callback'],
    token_endpoint_auth_method: 'client_secret_basic',
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return { client: created.body as TestClient };
}

/** Introspects as the resource, with its secret as bearer and with Basic id:secret, so that `at` caches it both ways. */
async function cacheResourceCallers(at: RunningGatehouse, resource: TestResource): Promise<{ bearer: TokenCaller; basic: TokenCaller }> {
  const callers = { bearer: { resource, via: 'bearer' }, basic: { resource, via: 'basic' } } satisfies Record<string, TokenCaller>;
  for (const caller of Object.values(callers)) assert.equal(await status(introspect(at, caller, TOKEN)), 200);
  assertCached(at, 'resource', `secret:${sha256(resource.registration_secret)}`, 'the resource by its secret');
  assertCached(at, 'resource', `id:${resource.id}`, 'the resource by id');
  return callers;
}

async function scopesSupported(gatehouse: RunningGatehouse): Promise<string[]> {
  const response = await readJson(await fetch(`${gatehouse.url}/.well-known/oauth-authorization-server`));
  assert.equal(response.status, 200, response.text);
  return response.body.scopes_supported as string[];
}

describe('record cache on PGlite: a single instance evicts on its own writes', () => {
  let gatehouse: RunningGatehouse;
  before(async () => {
    gatehouse = await startGatehouse({ database: 'pglite' });
  });
  after(async () => {
    await gatehouse?.close();
  });

  it('is local, and reports so at /readyz', async () => {
    assert.equal(cacheOf(gatehouse).mode, 'local');
    const ready = await readJson(await fetch(`${gatehouse.url}/readyz`));
    assert.equal(ready.body.record_cache, 'local');
  });

  it('refuses a deleted client, an old resource secret, and serves the new scope union, at once', async () => {
    const client = await staticClient(gatehouse);
    assert.equal(await status(revoke(gatehouse, client, TOKEN)), 200);
    assertCached(gatehouse, 'client', client.client.client_id, 'the client');
    assert.equal((await gatehouse.admin('DELETE', `/admin/clients/${client.client.client_id}`)).status, 204);
    assert.equal(await status(revoke(gatehouse, client, TOKEN)), 401);

    assert.deepEqual(await scopesSupported(gatehouse), []);
    assertCached(gatehouse, 'resource', 'scopes', 'the (empty) scope union');
    const resource = await createResource(gatehouse, { resource: 'https://mcp.cache-local.test/mcp', scopes: ['local:read'] });
    const { bearer, basic } = await cacheResourceCallers(gatehouse, resource);
    assert.deepEqual(await scopesSupported(gatehouse), ['local:read']);
    assertCached(gatehouse, 'resource', 'scopes', 'the scope union');

    const rotated = await gatehouse.admin('POST', `/admin/resources/${resource.id}/secret`, { overlap_seconds: 0 });
    assert.equal(rotated.status, 200);
    assert.equal(await status(introspect(gatehouse, bearer, TOKEN)), 401);
    assert.equal(await status(introspect(gatehouse, basic, TOKEN)), 401);
    assert.equal(await status(introspect(gatehouse, { resource: { ...resource, registration_secret: rotated.body.registration_secret }, via: 'bearer' }, TOKEN)), 200);

    assert.equal((await gatehouse.admin('PATCH', `/admin/resources/${resource.id}`, { scopes: ['local:read', 'local:write'] })).status, 200);
    assert.deepEqual(await scopesSupported(gatehouse), ['local:read', 'local:write']);
  });
});

describe('record cache across two instances on one PostgreSQL', { skip: postgresUnavailable() }, () => {
  let a: RunningGatehouse;
  let b: RunningGatehouse;

  before(async () => {
    a = await startGatehouse({ database: 'postgres' });
    b = await startGatehouse({ storage: a.storage });
    await Promise.all([waitForMode(a, 'listening'), waitForMode(b, 'listening')]);
  });
  after(async () => {
    await b?.close({ keepStorage: true });
    await a?.close();
  });

  it('both listen, and say so at /readyz', async () => {
    for (const instance of [a, b]) {
      const ready = await readJson(await fetch(`${instance.url}/readyz`));
      assert.equal(ready.body.record_cache, 'listening', ready.text);
    }
  });

  it('admin "delete client" on A: A refuses the client at once, B as soon as the NOTIFY arrives', async () => {
    const client = await staticClient(a);
    for (const instance of [a, b]) {
      assert.equal(await status(revoke(instance, client, TOKEN)), 200);
      assertCached(instance, 'client', client.client.client_id, 'the client');
    }
    assert.equal((await a.admin('DELETE', `/admin/clients/${client.client.client_id}`)).status, 204);
    assert.equal(await status(revoke(a, client, TOKEN)), 401, 'A evicted it when its transaction committed');
    assert.equal(await eventually(() => status(revoke(b, client, TOKEN)), 401), 401, 'B is told');
  });

  it('RFC 7592 PUT on A that changes the authentication method: B refuses the old method and accepts the new one', async () => {
    const registered = await postJson(`${a.url}/register`, {
      client_name: 'Switches to public',
      redirect_uris: ['http://127.0.0.1:47112/callback'],
      token_endpoint_auth_method: 'client_secret_basic',
    });
    assert.equal(registered.status, 201, registered.text);
    const client = registered.body as TestClient;
    assert.equal(await status(revoke(b, { client }, TOKEN)), 200);
    assertCached(b, 'client', client.client_id, 'the client');

    const { client_secret: _secret, registration_access_token: token, registration_client_uri: _uri, client_id_issued_at: _issued, client_secret_expires_at: _expires, ...metadata } =
      registered.body as Record<string, unknown>;
    const updated = await readJson(
      await fetch(`${a.url}/register/${client.client_id}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${String(token)}` },
        body: JSON.stringify({ ...metadata, token_endpoint_auth_method: 'none' }),
      }),
    );
    assert.equal(updated.status, 200, updated.text);
    assert.equal(await eventually(() => status(revoke(b, { client }, TOKEN)), 401), 401, 'the secret no longer authenticates at B');
    assert.equal(await status(revoke(b, { client, method: 'none' }, TOKEN)), 200, 'the new method does');
  });

  it('admin "rotate resource secret" without overlap on A: B refuses the old secret (bearer and basic) and accepts the new one', async () => {
    const resource = await createResource(a, { resource: 'https://mcp.cache-shared.test/mcp', scopes: ['shared:read'] });
    await notificationsDelivered(a, b); // the creation's announcement forgets B's resources
    const { bearer, basic } = await cacheResourceCallers(b, resource);

    const rotated = await a.admin('POST', `/admin/resources/${resource.id}/secret`, { overlap_seconds: 0 });
    assert.equal(rotated.status, 200);
    assert.equal(await eventually(() => status(introspect(b, bearer, TOKEN)), 401), 401);
    assert.equal(await status(introspect(b, basic, TOKEN)), 401);
    const renewed: TokenCaller = { resource: { ...resource, registration_secret: rotated.body.registration_secret as string }, via: 'bearer' };
    assert.equal(await status(introspect(b, renewed, TOKEN)), 200);
  });

  it('resource changes on A (create, update, delete) reach the metadata document B serves from its cache', async () => {
    assert.ok(!(await scopesSupported(b)).includes('scopes:read'));
    assertCached(b, 'resource', 'scopes', 'the scope union');
    const resource = await createResource(a, { resource: 'https://mcp.cache-scopes.test/mcp', scopes: ['scopes:read'] });
    assert.equal(await eventually(async () => ((await scopesSupported(b)).includes('scopes:read') ? 200 : 404), 200), 200, 'a created resource reaches B');
    assertCached(b, 'resource', 'scopes', 'the scope union');
    assert.equal((await a.admin('PATCH', `/admin/resources/${resource.id}`, { scopes: ['scopes:read', 'scopes:write'] })).status, 200);
    assert.equal(await eventually(async () => ((await scopesSupported(b)).includes('scopes:write') ? 200 : 404), 200), 200, 'B serves the new union');
    assert.equal((await a.admin('DELETE', `/admin/resources/${resource.id}`)).status, 204);
    assert.equal(await eventually(async () => ((await scopesSupported(b)).includes('scopes:write') ? 200 : 404), 404), 404, 'and forgets a deleted resource');
  });

  it('the expiry job on A: B refuses the expired client', async () => {
    const registered = await postJson(`${a.url}/register`, { client_name: 'Never used', redirect_uris: ['http://127.0.0.1:47113/callback'] });
    assert.equal(registered.status, 201, registered.text);
    const client = registered.body as TestClient;
    assert.equal(await status(revoke(b, { client }, TOKEN)), 200);
    assertCached(b, 'client', client.client_id, 'the client');
    // Registered 25 hours ago and never used (revocation is not a use): expired. Only this row is aged.
    await a.db.query(`UPDATE clients SET created_at = now() - interval '25 hours' WHERE id = $1`, [client.client_id]);
    assert.ok((await a.app.get(ClientsHousekeeping).expireBatch(1000)) >= 1);
    assert.equal(await eventually(() => status(revoke(b, { client }, TOKEN)), 401), 401);
  });

  it('with the listeners down, the caches are bypassed: a change on A is seen on B at once; they come back empty', async () => {
    const client = await staticClient(a);
    assert.equal(await status(revoke(b, client, TOKEN)), 200);
    assertCached(b, 'client', client.client.client_id, 'the client');

    const killed = (await a.db.query('SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()', [
      LISTENER_APPLICATION_NAME,
    ])) as Array<{ killed: boolean }>;
    assert.equal(killed.length, 2, "both instances' listeners");
    await Promise.all([waitForMode(a, 'bypassed', 2000), waitForMode(b, 'bypassed', 2000)]);
    assert.equal(cacheOf(b).has('client', client.client.client_id), false, 'emptied');

    // The listeners reconnect after a second: these steps take a few milliseconds, and the last assertion checks
    // that B's listener had not come back meanwhile (which would have emptied its cache and proven nothing).
    assert.equal(await status(revoke(b, client, TOKEN)), 200, 'read from the database, and not kept');
    assert.equal((await a.admin('DELETE', `/admin/clients/${client.client.client_id}`)).status, 204);
    assert.equal(await status(revoke(b, client, TOKEN)), 401, 'B sees the deletion at once, without any notification');
    assert.equal(cacheOf(b).mode, 'bypassed', 'B was bypassing throughout');

    await Promise.all([waitForMode(a, 'listening'), waitForMode(b, 'listening')]);
    const another = await staticClient(a);
    assert.equal(await status(revoke(b, another, TOKEN)), 200);
    assertCached(b, 'client', another.client.client_id, 'the client, once B listens again');
    assert.equal((await a.admin('DELETE', `/admin/clients/${another.client.client_id}`)).status, 204);
    assert.equal(await eventually(() => status(revoke(b, another, TOKEN)), 401), 401, 'invalidation works again');
  });
});
