import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import * as oauth from 'oauth4webapi';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { createResource, startGatehouse, type RunningGatehouse } from '../support/gatehouse.js';
import { postgresUnavailable } from '../support/postgres.js';
import { isActive, mintTokens, refreshTokens, registerClient, type MintedTokens, type TestClient, type TestResource } from '../support/flows.js';
import type { SigningAlg } from '../../src/config/config.js';
import { KeyService } from '../../src/keys/key.service.js';
import { KeysHousekeeping } from '../../src/keys/keys-housekeeping.js';

/**
 * SIGNING_ALG per deployment: tokens signed with it verify against the JWKS with the real clients, a change of
 * algorithm across a restart leaves earlier tokens verifiable, and KEY_ROTATION_DAYS rotates once the active key is due.
 */
const RESOURCE = 'https://mcp.example.test/mcp';
const insecure = { [oauth.allowInsecureRequests]: true } as const;

async function setUp(gatehouse: RunningGatehouse): Promise<{ resource: TestResource; client: TestClient; clientId: string }> {
  const resource = await createResource(gatehouse, { name: 'MCP', resource: RESOURCE, scopes: ['tools:read'], default_scopes: ['tools:read'] });
  const client = await registerClient(gatehouse, { client_name: 'Client', token_endpoint_auth_method: 'client_secret_basic' });
  return { resource, client, clientId: client.client_id };
}

/** Refreshes at /token and returns the new access token. */
async function refreshed(gatehouse: RunningGatehouse, client: TestClient, refreshToken: string): Promise<string> {
  const response = await refreshTokens(gatehouse, { client }, refreshToken);
  assert.equal(response.status, 200, response.text);
  return response.body.access_token as string;
}

/** Verifies with jose against the published JWKS, allowing only `alg`. */
async function joseVerifies(gatehouse: RunningGatehouse, token: string, alg: SigningAlg): Promise<void> {
  const jwks = createRemoteJWKSet(new URL(`${gatehouse.url}/.well-known/jwks.json`));
  const { protectedHeader } = await jwtVerify(token, jwks, { issuer: gatehouse.url, audience: RESOURCE, typ: 'at+jwt', algorithms: [alg] });
  assert.equal(protectedHeader.alg, alg);
}

/** Verifies as a resource server using oauth4webapi would: discovery, then validateJwtAccessToken allowing only `alg`. */
async function oauth4webapiVerifies(gatehouse: RunningGatehouse, token: string, alg: SigningAlg): Promise<void> {
  const issuer = new URL(gatehouse.url);
  const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { ...insecure, algorithm: 'oauth2' }));
  const request = new Request(RESOURCE, { headers: { authorization: `Bearer ${token}` } });
  const claims = await oauth.validateJwtAccessToken(as, request, RESOURCE, { ...insecure, signingAlgorithms: [alg] });
  assert.equal(claims.iss, gatehouse.url);
}

async function publishedAlgs(gatehouse: RunningGatehouse): Promise<Record<string, string>> {
  const response = await fetch(`${gatehouse.url}/.well-known/jwks.json`);
  const { keys } = (await response.json()) as { keys: Array<{ kid: string; alg: string }> };
  return Object.fromEntries(keys.map((key) => [key.kid, key.alg]));
}

async function rotations(gatehouse: RunningGatehouse): Promise<Array<{ actor_kind: string; data: Record<string, unknown> }>> {
  return gatehouse.db.query(`SELECT actor_kind, data FROM audit_events WHERE type = 'signing_key.rotated' ORDER BY seq`);
}

for (const alg of ['RS256', 'EdDSA'] as const) {
  describe(`SIGNING_ALG=${alg}`, () => {
    let gatehouse: RunningGatehouse;
    let tokens: MintedTokens;
    let resource: TestResource;
    let client: TestClient;

    before(async () => {
      gatehouse = await startGatehouse({ env: { SIGNING_ALG: alg } });
      ({ resource, client } = await setUp(gatehouse));
      tokens = await mintTokens(gatehouse, resource, { client_id: client.client_id, subject: 'user-1' });
    });
    after(async () => {
      await gatehouse?.close();
    });

    it(`publishes only ${alg} keys, each with its alg`, async () => {
      const algs = Object.values(await publishedAlgs(gatehouse));
      assert.deepEqual(algs, [alg, alg]);
    });

    it(`issues ${alg} access tokens that jose and oauth4webapi verify against the JWKS`, async () => {
      assert.equal(decodeProtectedHeader(tokens.accessToken).alg, alg);
      await joseVerifies(gatehouse, tokens.accessToken, alg);
      await oauth4webapiVerifies(gatehouse, tokens.accessToken, alg);
      await assert.rejects(joseVerifies(gatehouse, tokens.accessToken, 'ES256'), /alg/, 'not taken for another algorithm');
    });

    it('introspects and refreshes them as ES256 ones', async () => {
      assert.equal(await isActive(gatehouse, { resource, via: 'bearer' }, tokens.accessToken), true);
      await joseVerifies(gatehouse, await refreshed(gatehouse, client, tokens.refreshToken), alg);
    });
  });
}

describe('changing SIGNING_ALG from ES256 to RS256 across a restart', () => {
  let gatehouse: RunningGatehouse;
  after(async () => {
    await gatehouse?.close();
  });

  it('signs with RS256 from the restart on, and every ES256 token issued before still verifies and introspects', async () => {
    const first = await startGatehouse();
    const { resource, client, clientId } = await setUp(first);
    const before = await mintTokens(first, resource, { client_id: clientId, subject: 'user-1' });
    assert.equal(decodeProtectedHeader(before.accessToken).alg, 'ES256');
    const oldKids = Object.keys(await publishedAlgs(first));
    await first.close({ keepStorage: true });

    // The same port, hence the same issuer: the tokens of before name it.
    gatehouse = await startGatehouse({ storage: first.storage, port: Number(new URL(first.url).port), env: { SIGNING_ALG: 'RS256' } });
    const published = await publishedAlgs(gatehouse);
    for (const kid of oldKids) assert.equal(published[kid], 'ES256', 'the ES256 keys stay published with their alg');
    assert.equal(Object.values(published).filter((alg) => alg === 'RS256').length, 2, 'an active and a next RS256 key');

    const after = await mintTokens(gatehouse, resource, { client_id: clientId, subject: 'user-2' });
    assert.equal(decodeProtectedHeader(after.accessToken).alg, 'RS256');
    await joseVerifies(gatehouse, after.accessToken, 'RS256');
    await joseVerifies(gatehouse, before.accessToken, 'ES256');
    await oauth4webapiVerifies(gatehouse, before.accessToken, 'ES256');
    assert.equal(await isActive(gatehouse, { resource, via: 'bearer' }, before.accessToken), true);
    // The refresh token of before is good too, and what it gets now is signed with RS256.
    assert.equal(decodeProtectedHeader(await refreshed(gatehouse, client, before.refreshToken)).alg, 'RS256');

    const [rotation, ...more] = await rotations(gatehouse);
    assert.equal(more.length, 0);
    assert.equal(rotation?.actor_kind, 'system');
    assert.deepEqual({ retired: rotation?.data.retired, alg: rotation?.data.alg, previous_alg: rotation?.data.previous_alg }, { retired: decodeProtectedHeader(before.accessToken).kid, alg: 'RS256', previous_alg: 'ES256' });
    assert.equal(rotation?.data.active, decodeProtectedHeader(after.accessToken).kid);

    const again = await gatehouse.restart();
    gatehouse = again;
    assert.equal((await rotations(gatehouse)).length, 1, 'a restart with the same SIGNING_ALG rotates nothing');
  });
});

/** Makes the active key look as if it had started signing `days` ago, and has the instance re-read the keys. */
async function ageActiveKey(gatehouse: RunningGatehouse, days: number): Promise<void> {
  await gatehouse.db.query(`UPDATE signing_keys SET activated_at = now() - make_interval(days => $1) WHERE state = 'active'`, [days]);
  await gatehouse.app.get(KeyService).reload();
}

async function activeKid(gatehouse: RunningGatehouse): Promise<string> {
  const [row] = (await gatehouse.db.query(`SELECT kid FROM signing_keys WHERE state = 'active'`)) as Array<{ kid: string }>;
  return row!.kid;
}

describe('KEY_ROTATION_DAYS (pglite)', () => {
  it('rotates nothing when unset, however old the active key', async () => {
    const gatehouse = await startGatehouse();
    try {
      const kid = await activeKid(gatehouse);
      await ageActiveKey(gatehouse, 4000);
      await gatehouse.app.get(KeysHousekeeping).tick();
      assert.equal(await activeKid(gatehouse), kid);
      assert.equal((await rotations(gatehouse)).length, 0);
    } finally {
      await gatehouse.close();
    }
  });

  it('promotes the published next key once the active one is due, recorded as a system rotation, and only then', async () => {
    const gatehouse = await startGatehouse({ env: { KEY_ROTATION_DAYS: '7' } });
    try {
      const { resource, clientId } = await setUp(gatehouse);
      const job = gatehouse.app.get(KeysHousekeeping);
      const [active] = (await gatehouse.db.query(`SELECT kid FROM signing_keys WHERE state = 'active'`)) as Array<{ kid: string }>;
      const [next] = (await gatehouse.db.query(`SELECT kid FROM signing_keys WHERE state = 'next'`)) as Array<{ kid: string }>;
      const before = await mintTokens(gatehouse, resource, { client_id: clientId, subject: 'user-1' });

      await ageActiveKey(gatehouse, 6);
      await job.tick();
      assert.equal(await activeKid(gatehouse), active!.kid, 'six days is not seven');

      await ageActiveKey(gatehouse, 7);
      await job.tick();
      assert.equal(await activeKid(gatehouse), next!.kid);
      const after = await mintTokens(gatehouse, resource, { client_id: clientId, subject: 'user-1' });
      assert.equal(decodeProtectedHeader(after.accessToken).kid, next!.kid, 'this instance signs with it at once');
      await joseVerifies(gatehouse, before.accessToken, 'ES256');
      const [rotation, ...more] = await rotations(gatehouse);
      assert.equal(more.length, 0);
      assert.equal(rotation?.actor_kind, 'system');
      assert.deepEqual({ retired: rotation?.data.retired, active: rotation?.data.active }, { retired: active!.kid, active: next!.kid });

      await job.tick();
      assert.equal((await rotations(gatehouse)).length, 1, 'the promoted key is not due');
    } finally {
      await gatehouse.close();
    }
  });
});

describe('KEY_ROTATION_DAYS with two instances on one database (postgres)', { skip: postgresUnavailable() }, () => {
  it('rotates once when both find the active key due at the same moment', async () => {
    const first = await startGatehouse({ database: 'postgres', env: { KEY_ROTATION_DAYS: '1' } });
    const second = await startGatehouse({ storage: first.storage, env: { KEY_ROTATION_DAYS: '1' } });
    try {
      await ageActiveKey(first, 2);
      await second.app.get(KeyService).reload();
      await Promise.all([first.app.get(KeysHousekeeping).tick(), second.app.get(KeysHousekeeping).tick()]);
      assert.equal((await rotations(first)).length, 1);
      assert.equal(await first.db.query(`SELECT count(*)::int AS n FROM signing_keys WHERE state = 'retired'`).then((rows: Array<{ n: number }>) => rows[0]!.n), 1);
    } finally {
      await first.close({ keepStorage: true });
      await second.close();
    }
  });
});
