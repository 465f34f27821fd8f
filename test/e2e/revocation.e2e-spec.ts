import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { randomBytes, randomUUID } from 'node:crypto';
import { generateKeyPair, SignJWT } from 'jose';
import { KeyService } from '../../src/keys/key.service.js';
import { createResource, startGatehouse, type DatabaseKind, type RunningGatehouse } from '../support/gatehouse.js';
import { postgresUnavailable } from '../support/postgres.js';
import {
  grantUserId,
  assertOAuthError,
  databaseCounts,
  isActive,
  mintTokens,
  refreshTokens,
  registerClient,
  revoke,
  type BodyEncoding,
  type DatabaseCounts,
  type JsonResponse,
  type MintedTokens,
  type TestClient,
  type TestResource,
  type TokenCaller,
} from '../support/flows.js';

/**
 * POST /revoke and its alias POST /api/oauth/revoke (RFC 7009). Revoking a refresh token revokes its grant (the
 * whole family and the access tokens minted from it); revoking an access token records its jti. A caller may only
 * revoke its own tokens — a client those issued to it, a resource server those whose audience it is — and anything
 * else is answered 200 without changing a thing, as are unknown, malformed and already-revoked tokens. Every
 * revocation is audited exactly once.
 */

/** `before` with some counters moved by the given amounts; every other counter unchanged. */
function changed(before: DatabaseCounts, delta: Record<string, number>): DatabaseCounts {
  const out = { ...before };
  for (const [key, by] of Object.entries(delta)) out[key] = (out[key] ?? 0) + by;
  return out;
}

/** RFC 7009 §2.2: 200, never cacheable, and not an error. */
function assertRevokeAccepted(response: JsonResponse, where: string): void {
  assert.equal(response.status, 200, `${where}: ${response.status} ${response.text}`);
  assert.equal(response.body?.error, undefined, where);
  assert.equal(response.headers.get('cache-control'), 'no-store', `${where}: Cache-Control`);
}

for (const database of ['pglite', 'postgres'] as DatabaseKind[]) {
  describe(`revocation (${database})`, { skip: database === 'postgres' && postgresUnavailable() }, () => {
    let gatehouse: RunningGatehouse;
    let resourceA: TestResource;
    let resourceB: TestResource;
    let basicClient: TestClient;
    let postClient: TestClient;
    let publicClient: TestClient;

    before(async () => {
      gatehouse = await startGatehouse({ database });
      resourceA = await createResource(gatehouse, { name: 'A', resource: 'https://a.example.test/mcp', scopes: ['tools:read'], default_scopes: ['tools:read'] });
      resourceB = await createResource(gatehouse, { name: 'B', resource: 'https://b.example.test/mcp', scopes: ['tools:read'], default_scopes: ['tools:read'] });
      basicClient = await registerClient(gatehouse, { client_name: 'Basic', token_endpoint_auth_method: 'client_secret_basic' });
      postClient = await registerClient(gatehouse, { client_name: 'Post', token_endpoint_auth_method: 'client_secret_post' });
      publicClient = await registerClient(gatehouse, { client_name: 'Public', token_endpoint_auth_method: 'none' });
    });
    after(async () => {
      await gatehouse?.close();
    });

    const mint = (resource: TestResource, client: TestClient) => mintTokens(gatehouse, resource, { client_id: client.client_id, subject: `user-${randomUUID()}` });
    const bearerOf = (resource: TestResource): TokenCaller => ({ resource, via: 'bearer' });

    async function auditFor(type: string, grantId: string): Promise<Array<{ data: Record<string, unknown>; client_id: string | null; subject: string | null; resource: string | null }>> {
      return (await gatehouse.db.query(`SELECT data, client_id, subject, resource FROM audit_events WHERE type = $1 AND data->>'grant_id' = $2 ORDER BY seq`, [type, grantId])) as Array<{
        data: Record<string, unknown>;
        client_id: string | null;
        subject: string | null;
        resource: string | null;
      }>;
    }

    async function grantRow(grantId: string): Promise<{ revoked_at: Date | null; revoked_reason: string | null }> {
      const rows = (await gatehouse.db.query('SELECT revoked_at, revoked_reason FROM grants WHERE id = $1', [grantId])) as Array<{ revoked_at: Date | null; revoked_reason: string | null }>;
      assert.ok(rows[0], `grant ${grantId} exists`);
      return rows[0];
    }

    it('revoking a refresh token revokes its grant: the family’s access and refresh tokens go inactive and refresh fails', async () => {
      const first = await mint(resourceA, basicClient);
      const rotated = await refreshTokens(gatehouse, { client: basicClient }, first.refreshToken);
      assert.equal(rotated.status, 200, rotated.text);
      const secondAccess: string = rotated.body.access_token;
      const secondRefresh: string = rotated.body.refresh_token;
      const owner: TokenCaller = { client: basicClient };
      for (const token of [first.accessToken, secondAccess, secondRefresh]) assert.equal(await isActive(gatehouse, owner, token), true, 'live before');

      const before = await databaseCounts(gatehouse);
      assertRevokeAccepted(await revoke(gatehouse, owner, secondRefresh), 'revoke the newest refresh token');
      assert.deepEqual(await databaseCounts(gatehouse), changed(before, { 'grants.revoked': 1, audit_events: 2 }));

      for (const caller of [owner, bearerOf(resourceA)]) {
        for (const [name, token] of [
          ['first access token', first.accessToken],
          ['second access token', secondAccess],
          ['revoked refresh token', secondRefresh],
          ['rotated refresh token', first.refreshToken],
        ] as const) {
          assert.equal(await isActive(gatehouse, caller, token), false, `${name} is inactive`);
        }
      }
      const afterRevocation = await databaseCounts(gatehouse);
      assertOAuthError(await refreshTokens(gatehouse, { client: basicClient }, secondRefresh), 400, 'invalid_grant', 'refresh with the revoked token');
      assert.deepEqual(await databaseCounts(gatehouse), afterRevocation, 'the refused refresh issues and rotates nothing');

      const grant = await grantRow(first.claims.grant_id);
      assert.ok(grant.revoked_at);
      assert.equal(grant.revoked_reason, 'revoked_by_client');
      const revokedEvents = await auditFor('token.revoked', first.claims.grant_id);
      assert.equal(revokedEvents.length, 1);
      assert.deepEqual(revokedEvents[0]?.data, { token_type: 'refresh_token', grant_id: first.claims.grant_id, by: 'client' });
      assert.equal(revokedEvents[0]?.client_id, basicClient.client_id);
      assert.equal(revokedEvents[0]?.subject, await grantUserId(gatehouse, first.claims.grant_id));
      assert.equal(revokedEvents[0]?.resource, resourceA.resource);
      const grantEvents = await auditFor('grant.revoked', first.claims.grant_id);
      assert.equal(grantEvents.length, 1);
      assert.equal(grantEvents[0]?.data.reason, 'revoked_by_client');

      // Revoking again — the same token, the rotated one, the family's access tokens, through either path — adds nothing.
      const settled = await databaseCounts(gatehouse);
      for (const path of ['/revoke', '/api/oauth/revoke'] as const) {
        for (const token of [secondRefresh, first.refreshToken, first.accessToken, secondAccess]) {
          assertRevokeAccepted(await revoke(gatehouse, owner, token, { path }), `${path}: again`);
        }
      }
      assert.deepEqual(await databaseCounts(gatehouse), settled, 'nothing written by revoking what is already revoked');
      assert.equal((await auditFor('token.revoked', first.claims.grant_id)).length, 1);
      assert.equal((await auditFor('grant.revoked', first.claims.grant_id)).length, 1);
    });

    const accessRevocations: Array<{ name: string; client: () => TestClient; path: '/revoke' | '/api/oauth/revoke'; encoding: BodyEncoding }> = [
      { name: 'client_secret_basic, form, /revoke', client: () => basicClient, path: '/revoke', encoding: 'form' },
      { name: 'client_secret_basic, JSON, /api/oauth/revoke', client: () => basicClient, path: '/api/oauth/revoke', encoding: 'json' },
      { name: 'client_secret_post, form, /api/oauth/revoke', client: () => postClient, path: '/api/oauth/revoke', encoding: 'form' },
      { name: 'client_secret_post, JSON, /revoke', client: () => postClient, path: '/revoke', encoding: 'json' },
    ];
    for (const { name, client: clientOf, path, encoding } of accessRevocations) {
      it(`revoking an access token (${name}) makes it inactive at once, while the grant's refresh token still works`, async () => {
        const client = clientOf();
        const owner: TokenCaller = { client };
        const minted = await mint(resourceA, client);
        assert.equal(await isActive(gatehouse, owner, minted.accessToken), true);

        const before = await databaseCounts(gatehouse);
        assertRevokeAccepted(await revoke(gatehouse, owner, minted.accessToken, { path, encoding }), 'revoke');
        assert.deepEqual(await databaseCounts(gatehouse), changed(before, { revoked_access_tokens: 1, audit_events: 1 }));
        const recorded = (await gatehouse.db.query('SELECT client_id, expires_at FROM revoked_access_tokens WHERE jti = $1', [minted.claims.jti])) as Array<{ client_id: string; expires_at: Date }>;
        assert.equal(recorded.length, 1, 'the jti is recorded');
        assert.equal(recorded[0]?.client_id, client.client_id);
        assert.equal(Math.floor(new Date(recorded[0]!.expires_at).getTime() / 1000), minted.claims.exp, 'kept until the token would have expired');

        assert.equal(await isActive(gatehouse, owner, minted.accessToken), false, 'inactive for its client');
        assert.equal(await isActive(gatehouse, bearerOf(resourceA), minted.accessToken), false, 'inactive for its resource server');
        assert.equal(await isActive(gatehouse, owner, minted.refreshToken), true, 'the refresh token is untouched');
        assert.equal((await grantRow(minted.claims.grant_id)).revoked_at, null, 'the grant is untouched');

        const events = await auditFor('token.revoked', minted.claims.grant_id);
        assert.equal(events.length, 1);
        assert.deepEqual(events[0]?.data, { token_type: 'access_token', jti: minted.claims.jti, grant_id: minted.claims.grant_id, by: 'client' });
        assert.equal((await auditFor('grant.revoked', minted.claims.grant_id)).length, 0);

        const refreshed = await refreshTokens(gatehouse, owner, minted.refreshToken);
        assert.equal(refreshed.status, 200, refreshed.text);
        assert.equal(await isActive(gatehouse, owner, refreshed.body.access_token), true, 'the new access token is live');

        const settled = await databaseCounts(gatehouse);
        assertRevokeAccepted(await revoke(gatehouse, owner, minted.accessToken, { path, encoding }), 'revoke again');
        assert.deepEqual(await databaseCounts(gatehouse), settled, 'revoking twice writes nothing');
        assert.equal((await auditFor('token.revoked', minted.claims.grant_id)).length, 1);
      });
    }

    it('leaves another client’s tokens alone, answering 200', async () => {
      const minted = await mint(resourceA, basicClient);
      const before = await databaseCounts(gatehouse);
      for (const intruder of [{ client: postClient }, { client: publicClient }] satisfies TokenCaller[]) {
        for (const encoding of ['form', 'json'] as BodyEncoding[]) {
          for (const token of [minted.accessToken, minted.refreshToken]) {
            assertRevokeAccepted(await revoke(gatehouse, intruder, token, { encoding }), `${intruder.client.token_endpoint_auth_method}, ${encoding}`);
          }
        }
      }
      assert.deepEqual(await databaseCounts(gatehouse), before, 'nothing revoked, nothing audited');
      assert.equal(await isActive(gatehouse, { client: basicClient }, minted.accessToken), true);
      assert.equal(await isActive(gatehouse, { client: basicClient }, minted.refreshToken), true);
      const refreshed = await refreshTokens(gatehouse, { client: basicClient }, minted.refreshToken);
      assert.equal(refreshed.status, 200, refreshed.text);
    });

    it('answers 200 and writes nothing for unknown, malformed, expired, forged and already-revoked tokens', async () => {
      const keys = gatehouse.app.get(KeyService);
      const template = await mint(resourceA, basicClient);
      const now = Math.floor(Date.now() / 1000);
      const [header, payload] = template.accessToken.split('.') as [string, string];
      const { privateKey } = await generateKeyPair('ES256');
      const { kid } = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as { kid: string };
      const revokedAccess = await mint(resourceA, basicClient);
      assertRevokeAccepted(await revoke(gatehouse, { client: basicClient }, revokedAccess.accessToken), 'first revocation of the access token');
      const revokedGrant = await mint(resourceA, basicClient);
      assertRevokeAccepted(await revoke(gatehouse, { client: basicClient }, revokedGrant.refreshToken), 'first revocation of the refresh token');
      const tokens: Array<[string, string]> = [
        ['a refresh token never issued', `gh_rt_${randomBytes(32).toString('base64url')}`],
        ['garbage', 'garbage'],
        ['random hex', randomBytes(40).toString('hex')],
        ['a JWT with a wrong signature', `${header}.${payload}.${randomBytes(64).toString('base64url')}`],
        ['a JWT signed by another key', await new SignJWT({ ...template.claims, jti: randomUUID() }).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid }).sign(privateKey)],
        ['a JWT with alg none', `${Buffer.from('{"alg":"none","typ":"at+jwt"}').toString('base64url')}.${payload}.`],
        ['an expired access token', keys.signJwt({ ...template.claims, jti: randomUUID(), iat: now - 120, exp: now - 10 }, 'at+jwt')],
        ['an already revoked access token', revokedAccess.accessToken],
        ['an already revoked refresh token', revokedGrant.refreshToken],
        ['the access token of an already revoked grant', revokedGrant.accessToken],
      ];
      const before = await databaseCounts(gatehouse);
      for (const caller of [{ client: basicClient }, { client: postClient }, bearerOf(resourceA)] satisfies TokenCaller[]) {
        for (const [name, token] of tokens) {
          for (const path of ['/revoke', '/api/oauth/revoke'] as const) assertRevokeAccepted(await revoke(gatehouse, caller, token, { path }), `${name} at ${path}`);
        }
      }
      assert.deepEqual(await databaseCounts(gatehouse), before);
      assert.equal(await isActive(gatehouse, { client: basicClient }, template.accessToken), true, 'the template the forgeries copied is untouched');
    });

    it('lets a resource server revoke tokens whose audience it is, and leaves another resource’s tokens alone', async () => {
      const forA = await mint(resourceA, basicClient);
      const forB = await mint(resourceB, basicClient);

      const before = await databaseCounts(gatehouse);
      for (const via of ['bearer', 'basic'] as const) {
        for (const token of [forB.accessToken, forB.refreshToken]) assertRevokeAccepted(await revoke(gatehouse, { resource: resourceA, via }, token), `A revokes B's token (${via})`);
      }
      assert.deepEqual(await databaseCounts(gatehouse), before, 'another resource’s tokens: a no-op');
      assert.equal(await isActive(gatehouse, bearerOf(resourceB), forB.accessToken), true);
      assert.equal(await isActive(gatehouse, bearerOf(resourceB), forB.refreshToken), true);

      assertRevokeAccepted(await revoke(gatehouse, bearerOf(resourceA), forA.accessToken, { encoding: 'json' }), 'A revokes its access token (Bearer)');
      assert.equal(await isActive(gatehouse, { client: basicClient }, forA.accessToken), false);
      assert.equal(await isActive(gatehouse, { client: basicClient }, forA.refreshToken), true);
      assert.deepEqual((await auditFor('token.revoked', forA.claims.grant_id)).map((event) => event.data.by), ['resource']);

      assertRevokeAccepted(await revoke(gatehouse, { resource: resourceA, via: 'basic' }, forA.refreshToken, { path: '/api/oauth/revoke' }), 'A revokes its refresh token (Basic)');
      assert.equal(await isActive(gatehouse, { client: basicClient }, forA.refreshToken), false);
      assert.equal((await grantRow(forA.claims.grant_id)).revoked_reason, 'revoked_by_resource');
      assert.deepEqual((await auditFor('token.revoked', forA.claims.grant_id)).map((event) => event.data.by), ['resource', 'resource']);
      assert.equal((await auditFor('grant.revoked', forA.claims.grant_id)).length, 1);
      assertOAuthError(await refreshTokens(gatehouse, { client: basicClient }, forA.refreshToken), 400, 'invalid_grant');
    });

    it('lets a public client revoke its own tokens with only its client_id', async () => {
      const minted = await mint(resourceA, publicClient);
      const owner: TokenCaller = { client: publicClient };
      assertRevokeAccepted(await revoke(gatehouse, owner, minted.accessToken, { encoding: 'json', path: '/api/oauth/revoke' }), 'access token');
      assert.equal(await isActive(gatehouse, bearerOf(resourceA), minted.accessToken), false);
      assert.equal(await isActive(gatehouse, bearerOf(resourceA), minted.refreshToken), true);
      assertRevokeAccepted(await revoke(gatehouse, owner, minted.refreshToken), 'refresh token');
      assert.equal(await isActive(gatehouse, bearerOf(resourceA), minted.refreshToken), false);
      assertOAuthError(await refreshTokens(gatehouse, owner, minted.refreshToken), 400, 'invalid_grant');
      assert.equal((await auditFor('token.revoked', minted.claims.grant_id)).length, 2);
      assert.equal((await auditFor('grant.revoked', minted.claims.grant_id)).length, 1);
    });

    it('answers 401 to wrong credentials and revokes nothing', async () => {
      const minted: MintedTokens = await mint(resourceA, basicClient);
      const cases: Array<[string, TokenCaller, string, RegExp | null]> = [
        ['client_secret_basic with a wrong secret', { client: basicClient, secret: `${basicClient.client_secret}x` }, 'invalid_client', /^Basic /],
        ['client_secret_basic client sending client_secret_post', { client: basicClient, method: 'client_secret_post' }, 'invalid_client', null],
        ['client_secret_basic client sending only its client_id', { client: basicClient, method: 'none' }, 'invalid_client', null],
        ['client_secret_post with a wrong secret', { client: postClient, secret: 'gh_cs_wrong' }, 'invalid_client', null],
        ['an unknown client_id', { client: { client_id: randomUUID(), token_endpoint_auth_method: 'none' } }, 'invalid_client', null],
        ['resource Basic with a wrong secret', { resource: resourceA, via: 'basic', secret: resourceB.registration_secret }, 'invalid_client', /^Basic /],
        ['Bearer with an unknown registration secret', { resource: resourceA, via: 'bearer', secret: `gh_rs_${randomBytes(32).toString('base64url')}` }, 'invalid_token', /^Bearer /],
      ];
      const before = await databaseCounts(gatehouse);
      for (const [name, caller, error, challenge] of cases) {
        for (const token of [minted.accessToken, minted.refreshToken]) {
          for (const encoding of ['form', 'json'] as BodyEncoding[]) {
            const response = await revoke(gatehouse, caller, token, { encoding });
            assertOAuthError(response, 401, error, `${name} (${encoding})`);
            if (challenge) assert.match(response.headers.get('www-authenticate') ?? '', challenge, `${name}: WWW-Authenticate`);
          }
        }
      }
      const anonymous = await fetch(`${gatehouse.url}/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: minted.refreshToken }) });
      assert.equal(anonymous.status, 401, 'no client authentication at all');
      assert.equal(((await anonymous.json()) as { error: string }).error, 'invalid_client');
      assert.deepEqual(await databaseCounts(gatehouse), before);
      assert.equal(await isActive(gatehouse, { client: basicClient }, minted.accessToken), true);
      assert.equal(await isActive(gatehouse, { client: basicClient }, minted.refreshToken), true);
    });
  });
}
