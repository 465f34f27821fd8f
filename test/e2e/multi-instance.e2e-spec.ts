import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import pg from 'pg';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { MIGRATIONS } from '../../migrations/index.js';
import { postgresUnavailable } from '../support/postgres.js';
import { redisUnavailable } from '../support/redis.js';
import { startCluster, type GatehouseCluster, type GatehouseProcess } from '../support/instances.js';
import { assertOAuthError, introspect, mintTokens, refreshTokens, revoke, type ClientCredentials, type TokenCaller } from '../support/flows.js';

/**
 * Two Gatehouse processes on one PostgreSQL database and one Redis behave as one service: same ISSUER,
 * ENCRYPTION_KEY and ADMIN_TOKEN, each on its own port, as behind a load balancer. KEY_RELOAD_SECONDS=1 so that a
 * rotation reaches the other instance quickly.
 *
 * The instances start once for the whole file; further cases go in as it(...) blocks using `a`, `b` and
 * `cluster.redis`. An `it` that stops Redis starts it again before it ends. Extra environment for every instance goes
 * in CLUSTER_ENV (rate limits count per tracker: a case that spends a budget should use its own client, resource or
 * address so that it does not starve the others). Budget-level checks of the shared limits, in process, are in
 * rate-limits-redis.e2e-spec.ts.
 */

const RESOURCE = 'http://127.0.0.1:1/multi-instance-mcp';
// Registrations are counted per client address behind the (trusted, loopback) load balancer: the shared-budget case
// below spends one address's /register budget and nothing else (the other cases register through the admin API).
// Refresh-token reuse is detected strictly (a retry within a grace window: refresh-grace.e2e-spec.ts).
const CLUSTER_ENV: Record<string, string> = { TRUSTED_PROXIES: 'loopback', RATE_LIMIT_REGISTER: '4/1m', REFRESH_REUSE_GRACE_SECONDS: '0' };

interface Jwks {
  keys: Array<{ kid: string }>;
}

async function jwks(instance: GatehouseProcess): Promise<string[]> {
  const response = await fetch(`${instance.url}/.well-known/jwks.json`);
  assert.equal(response.status, 200);
  return ((await response.json()) as Jwks).keys.map((key) => key.kid).sort();
}

function kidOf(jwt: string): string {
  return decodeProtectedHeader(jwt).kid!;
}

describe('several instances on one PostgreSQL and one Redis', { skip: postgresUnavailable() || redisUnavailable() }, () => {
  let cluster: GatehouseCluster;
  let a: GatehouseProcess;
  let b: GatehouseProcess;
  let resource: { id: string; registration_secret: string };
  let client: ClientCredentials;
  let asResource: TokenCaller;

  before(async () => {
    cluster = await startCluster({ env: CLUSTER_ENV });
    [a, b] = cluster.instances as [GatehouseProcess, GatehouseProcess];
    // A resource server created through a, a client through b: each instance sees what the other wrote.
    const created = await cluster.admin(a, 'POST', '/admin/resources', { name: 'Multi-instance MCP', resource: RESOURCE, scopes: ['tools:read', 'tools:write'], default_scopes: ['tools:read'] });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    resource = created.body;
    const registered = await cluster.admin(b, 'POST', '/admin/clients', {
      client_name: 'Multi-instance client',
      redirect_uris: ['http://127.0.0.1:47013/callback'],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
    });
    assert.equal(registered.status, 201, JSON.stringify(registered.body));
    client = { client: { client_id: registered.body.client_id, token_endpoint_auth_method: 'none' } };
    asResource = { resource, via: 'bearer' };
  });

  after(async () => {
    await cluster?.dispose();
  });

  it('started together on an empty database, run each migration once, create one key pair, and both serve', async () => {
    const expected = MIGRATIONS.map((Migration) => new Migration().name ?? Migration.name);
    const db = new pg.Client({ connectionString: cluster.databaseUrl });
    await db.connect();
    try {
      const recorded = (await db.query<{ name: string }>('SELECT name FROM gatehouse_migrations ORDER BY name')).rows.map((row) => row.name);
      assert.deepEqual(recorded, [...expected].sort(), 'every migration of this build recorded, each once');
      const keys = (await db.query<{ state: string; n: number }>('SELECT state, count(*)::int AS n FROM signing_keys GROUP BY state ORDER BY state')).rows;
      assert.deepEqual(keys, [{ state: 'active', n: 1 }, { state: 'next', n: 1 }], 'one active and one next key, not one pair per instance');
    } finally {
      await db.end();
    }

    // The migration runner's advisory lock: one instance applied everything, the other waited and found nothing to do.
    const applied = [a, b].map((instance) => {
      const ready = instance.logs().find((line) => line.msg === 'database ready');
      assert.ok(ready, `${instance.name} logged no 'database ready':\n${instance.output()}`);
      return ready.migrations_applied as string[];
    });
    assert.deepEqual([...applied].sort((x, y) => y.length - x.length), [expected, []], cluster.outputs());

    assert.deepEqual(await jwks(a), await jwks(b));
    for (const instance of [a, b]) {
      const metadata = (await (await fetch(`${instance.url}/.well-known/oauth-authorization-server`)).json()) as { issuer: string };
      assert.equal(metadata.issuer, cluster.issuer, 'one issuer for the whole service');
    }
  });

  it('are one service: tokens issued by one refresh, introspect, verify and revoke through the other', async () => {
    const minted = await mintTokens(a, resource, { client_id: client.client.client_id, subject: 'user-1' });
    const bKeys = createRemoteJWKSet(new URL(`${b.url}/.well-known/jwks.json`));
    const verified = await jwtVerify(minted.accessToken, bKeys, { issuer: cluster.issuer, audience: RESOURCE, typ: 'at+jwt' });
    assert.equal(verified.payload.client_id, client.client.client_id);
    assert.equal((await introspect(b, asResource, minted.accessToken)).body.active, true, 'issued by a, active at b');

    const refreshed = await refreshTokens(b, client, minted.refreshToken);
    assert.equal(refreshed.status, 200, refreshed.text);
    const introspected = await introspect(a, asResource, refreshed.body.access_token as string);
    assert.equal(introspected.body.active, true, 'refreshed by b, active at a');
    assert.equal(introspected.body.sub, minted.claims.sub);
    assert.equal((await introspect(a, asResource, refreshed.body.refresh_token as string)).body.active, true);

    // Revoking the access token at a: b sees it revoked at once; the grant itself goes on.
    assert.equal((await revoke(a, asResource, refreshed.body.access_token as string)).status, 200);
    assert.deepEqual((await introspect(b, asResource, refreshed.body.access_token as string)).body, { active: false });
    const again = await refreshTokens(a, client, refreshed.body.refresh_token as string);
    assert.equal(again.status, 200, again.text);

    // Revoking the refresh token at b revokes the grant: a refuses its tokens.
    assert.equal((await revoke(b, asResource, again.body.refresh_token as string)).status, 200);
    assert.deepEqual((await introspect(a, asResource, again.body.access_token as string)).body, { active: false });
    assertOAuthError(await refreshTokens(a, client, again.body.refresh_token as string), 400, 'invalid_grant');
  });

  it('detect the reuse of a refresh token that the other instance rotated, and revoke the grant everywhere', async () => {
    const minted = await mintTokens(b, resource, { client_id: client.client.client_id, subject: 'user-2' });
    const rotated = await refreshTokens(a, client, minted.refreshToken);
    assert.equal(rotated.status, 200, rotated.text);

    // The refresh token a rotated away comes back at b: theft, so the whole grant goes.
    assertOAuthError(await refreshTokens(b, client, minted.refreshToken), 400, 'invalid_grant');
    assertOAuthError(await refreshTokens(a, client, rotated.body.refresh_token as string), 400, 'invalid_grant', 'the rotated-to token dies with the grant');
    assert.deepEqual((await introspect(a, asResource, rotated.body.access_token as string)).body, { active: false });
    assert.deepEqual((await introspect(b, asResource, rotated.body.access_token as string)).body, { active: false });
  });

  it('see a signing-key rotation made on the other: it verifies what the rotating one signs at once, and publishes and signs with the new keys within KEY_RELOAD_SECONDS', async () => {
    const before = await jwks(b);
    const signedBefore = await mintTokens(b, resource, { client_id: client.client.client_id, subject: 'user-3' });

    const rotation = await cluster.admin(a, 'POST', '/admin/keys/rotate');
    assert.equal(rotation.status, 200, JSON.stringify(rotation.body));
    const { retired, active, next } = rotation.body as { retired: string; active: string; next: string };
    assert.deepEqual([retired, active].sort(), before, 'the key that now signs was already published as next');
    assert.equal(kidOf(signedBefore.accessToken), retired);

    // a signs with the promoted key at once; b verifies it before it has even reloaded, because it published that
    // key as next all along.
    const signedByA = await mintTokens(a, resource, { client_id: client.client.client_id, subject: 'user-3' });
    assert.equal(kidOf(signedByA.accessToken), active);
    await jwtVerify(signedByA.accessToken, createRemoteJWKSet(new URL(`${b.url}/.well-known/jwks.json`)), { issuer: cluster.issuer, audience: RESOURCE });
    assert.equal((await introspect(b, asResource, signedByA.accessToken)).body.active, true);

    // Within KEY_RELOAD_SECONDS (1 s here) b publishes the fresh next key as well and signs with the new active key.
    const expected = [retired, active, next].sort();
    const deadline = Date.now() + 5000;
    let seen = await jwks(b);
    while (JSON.stringify(seen) !== JSON.stringify(expected) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      seen = await jwks(b);
    }
    assert.deepEqual(seen, expected, 'b publishes the rotation within a few reload intervals');
    assert.deepEqual(await jwks(a), expected);
    const signedByB = await mintTokens(b, resource, { client_id: client.client.client_id, subject: 'user-3' });
    assert.equal(kidOf(signedByB.accessToken), active, 'b signs with the new active key');

    // Every token verifies against either instance's JWKS, the one signed with the now retired key included.
    for (const instance of [a, b]) {
      const keys = createRemoteJWKSet(new URL(`${instance.url}/.well-known/jwks.json`));
      for (const token of [signedBefore, signedByA, signedByB]) await jwtVerify(token.accessToken, keys, { issuer: cluster.issuer, audience: RESOURCE });
    }
  });

  it('forget, through PostgreSQL NOTIFY, a client the other deleted: cached at b, refused by b once a has deleted it', async () => {
    for (const instance of [a, b]) {
      const ready = (await (await fetch(`${instance.url}/readyz`)).json()) as { record_cache: string };
      assert.equal(ready.record_cache, 'listening', `${instance.name}'s record cache listener is up`);
    }
    const created = await cluster.admin(a, 'POST', '/admin/clients', {
      client_name: 'Deleted through a',
      redirect_uris: ['http://127.0.0.1:47014/callback'],
      token_endpoint_auth_method: 'client_secret_basic',
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const confidential: ClientCredentials = { client: created.body };
    // Authenticated at b twice: read once, then served from b's cache.
    for (let i = 0; i < 2; i++) assert.equal((await revoke(b, confidential, 'not-a-token')).status, 200);
    assert.equal((await cluster.admin(a, 'DELETE', `/admin/clients/${created.body.client_id}`)).status, 204);
    const deadline = Date.now() + 3000;
    let status = 200;
    while (status !== 401 && Date.now() < deadline) {
      status = (await revoke(b, confidential, 'not-a-token')).status;
      if (status !== 401) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(status, 401, 'b refuses the deleted client');
  });

  it('forget a token the other revoked that introspection remembered live: inactive at b within the bound of docs/operations.md', async () => {
    const minted = await mintTokens(a, resource, { client_id: client.client.client_id, subject: 'user-remembered' });
    // Introspected twice at b: read once, then answered from b's memory.
    for (let i = 0; i < 2; i++) assert.equal((await introspect(b, asResource, minted.accessToken)).body.active, true);
    assert.equal((await revoke(a, asResource, minted.accessToken)).status, 200);
    assert.deepEqual((await introspect(a, asResource, minted.accessToken)).body, { active: false }, 'a, where it was revoked, at once');
    // The bound: usually milliseconds; at worst a listener ping interval plus its echo timeout (10 s).
    const deadline = Date.now() + 10_000;
    let answer = await introspect(b, asResource, minted.accessToken);
    while (answer.body.active !== false && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      answer = await introspect(b, asResource, minted.accessToken);
    }
    assert.deepEqual(answer.body, { active: false }, 'b once the NOTIFY arrived');
  });

  it('spend one rate-limit budget between them', async () => {
    const register = (instance: GatehouseProcess, address: string) =>
      fetch(`${instance.url}/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': address },
        body: JSON.stringify({ client_name: 'Budget', redirect_uris: ['http://127.0.0.1:47014/callback'], token_endpoint_auth_method: 'none' }),
      });
    const statuses: number[] = [];
    for (const instance of [a, b, a, b, a, b]) statuses.push((await register(instance, '198.51.100.77')).status);
    assert.deepEqual(statuses, [201, 201, 201, 201, 429, 429], 'four registrations in all, whichever instance answers');
    assert.equal((await register(b, '198.51.100.78')).status, 201, 'another client address is not held back');
  });

  it('stay up and keep serving while Redis is down, and count in Redis again once it is back', async () => {
    await cluster.redis.stop({ abrupt: true });
    try {
      const minted = await mintTokens(a, resource, { client_id: client.client.client_id, subject: 'user-4' });
      const refreshed = await refreshTokens(b, client, minted.refreshToken);
      assert.equal(refreshed.status, 200, refreshed.text);
      for (const instance of [a, b]) {
        const ready = await fetch(`${instance.url}/readyz`);
        assert.equal(ready.status, 200, 'Redis is not needed to be ready');
        assert.equal(((await ready.json()) as { rate_limit_store: string }).rate_limit_store, 'memory-fallback');
      }
    } finally {
      await cluster.redis.restart();
    }
    const deadline = Date.now() + 10_000;
    for (const instance of [a, b]) {
      for (;;) {
        const body = (await (await fetch(`${instance.url}/readyz`)).json()) as { rate_limit_store: string };
        if (body.rate_limit_store === 'redis') break;
        assert.ok(Date.now() < deadline, `${instance.name} did not go back to Redis: ${JSON.stringify(body)}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    for (const instance of [a, b]) {
      assert.ok(instance.running, `${instance.name} exited:\n${instance.output()}`);
      const messages = instance.logs().map((line) => String(line.msg));
      assert.equal(messages.filter((msg) => msg.startsWith('rate-limit store unreachable')).length, 1, instance.output());
      assert.ok(messages.some((msg) => msg.startsWith('rate-limit store back')), instance.output());
    }
  });
});
