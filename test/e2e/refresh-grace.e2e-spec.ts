import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { createResource, startGatehouse, type DatabaseKind, type RunningGatehouse } from '../support/gatehouse.js';
import { postgresUnavailable } from '../support/postgres.js';
import {
  assertOAuthError,
  isActive,
  mintTokens,
  refreshTokens,
  registerClient,
  revoke,
  storageHash,
  type ClientCredentials,
  type JsonResponse,
  type TokenCaller,
} from '../support/flows.js';
import { REFRESH_RETRY_LIMIT } from '../../src/tokens/grants/refresh-token.grant.js';

/**
 * Refresh reuse grace (REFRESH_REUSE_GRACE_SECONDS, 30 s by default): a rotated refresh token presented again by
 * its client soon after the rotation — a retry whose answer was lost, or a concurrent duplicate — gets another
 * working pair and revokes nothing; after the window, or once a successor was used, or beyond the retry bound, it
 * is reuse and revokes the grant as in strict mode (strict mode itself: concurrency.e2e-spec.ts, negative.e2e-spec.ts).
 */

const RESOURCE = 'http://127.0.0.1:1/refresh-grace-mcp';

interface Pair {
  accessToken: string;
  refreshToken: string;
}

function pairOf(response: JsonResponse): Pair {
  assert.equal(response.status, 200, response.text);
  const { access_token: accessToken, refresh_token: refreshToken } = response.body as Record<string, unknown>;
  assert.ok(typeof accessToken === 'string' && typeof refreshToken === 'string', response.text);
  return { accessToken, refreshToken };
}

for (const database of ['pglite', 'postgres'] as DatabaseKind[]) {
  describe(`refresh reuse grace (${database})`, { skip: database === 'postgres' && postgresUnavailable() }, () => {
    let gatehouse: RunningGatehouse;
    let asResource: TokenCaller;
    let resource: { id: string; registration_secret: string };

    before(async () => {
      gatehouse = await startGatehouse({ database, env: { RATE_LIMIT_REGISTER: '1000/1m' } });
      assert.equal(gatehouse.config.refreshReuseGraceSeconds, 30, 'the default window');
      resource = await createResource(gatehouse, { resource: RESOURCE, scopes: ['tools:read', 'tools:write'], default_scopes: ['tools:read'] });
      asResource = { resource, via: 'basic' };
    });

    after(async () => {
      await gatehouse?.close();
    });

    /** A new client and a grant of its, minted: its first refresh token and grant id. */
    async function newGrant(): Promise<{ client: ClientCredentials; refreshToken: string; grantId: string }> {
      const client = { client: await registerClient(gatehouse) };
      const minted = await mintTokens(gatehouse, resource, { client_id: client.client.client_id, subject: `user-${Math.random()}` });
      return { client, refreshToken: minted.refreshToken, grantId: minted.claims.grant_id };
    }

    async function grantRevoked(grantId: string): Promise<{ revoked_at: Date | null; revoked_reason: string | null }> {
      const rows = (await gatehouse.db.query('SELECT revoked_at, revoked_reason FROM grants WHERE id = $1', [grantId])) as Array<{ revoked_at: Date | null; revoked_reason: string | null }>;
      assert.equal(rows.length, 1);
      return rows[0]!;
    }

    async function events(type: string, grantId: string): Promise<Array<{ client_id: string; data: Record<string, unknown> }>> {
      return (await gatehouse.db.query(`SELECT client_id, data FROM audit_events WHERE type = $1 AND data->>'grant_id' = $2 ORDER BY seq`, [type, grantId])) as Array<{
        client_id: string;
        data: Record<string, unknown>;
      }>;
    }

    /** Moves a token's rotation back by an hour: its grace window has passed. */
    async function ageRotation(refreshToken: string): Promise<void> {
      await gatehouse.db.query(`UPDATE refresh_tokens SET rotated_at = rotated_at - interval '1 hour' WHERE token_hash = $1 AND rotated_at IS NOT NULL`, [storageHash(refreshToken)]);
    }

    async function assertWorkingPair(client: ClientCredentials, pair: Pair, label: string): Promise<void> {
      assert.equal(await isActive(gatehouse, asResource, pair.accessToken), true, `${label}: the access token verifies`);
      pairOf(await refreshTokens(gatehouse, client, pair.refreshToken));
    }

    it('a retry within the window gets another working pair, revokes nothing, and is recorded as token.refresh_retried', async () => {
      const { client, refreshToken, grantId } = await newGrant();
      const first = pairOf(await refreshTokens(gatehouse, client, refreshToken));

      const retried = pairOf(await refreshTokens(gatehouse, client, refreshToken));
      assert.notEqual(retried.refreshToken, first.refreshToken, 'a new successor: the first one’s plaintext is not kept');
      assert.notEqual(retried.refreshToken, refreshToken);

      // Both successors work (the client may hold either).
      await assertWorkingPair(client, retried, 'the retry’s pair');
      await assertWorkingPair(client, first, 'the first pair');
      assert.equal((await grantRevoked(grantId)).revoked_at, null);

      const retries = await events('token.refresh_retried', grantId);
      assert.equal(retries.length, 1);
      assert.equal(retries[0]!.client_id, client.client.client_id);
      assert.equal(retries[0]!.data.retries, 1);
      assert.equal(typeof retries[0]!.data.jti, 'string');
      assert.equal((await events('token.refreshed', grantId)).length, 3, 'the rotation and the two successors’ own');
      assert.equal((await events('refresh_token.reuse_detected', grantId)).length, 0);

      // Past the window a used successor is single-use again: presenting it once more is reuse.
      await ageRotation(retried.refreshToken);
      assertOAuthError(await refreshTokens(gatehouse, client, retried.refreshToken), 400, 'invalid_grant', 'reuse of a used successor');
      assert.equal((await events('refresh_token.reuse_detected', grantId)).length, 1);
    });

    it('five concurrent refreshes with one token: each ends with a working pair, and the grant lives', async () => {
      const { client, refreshToken, grantId } = await newGrant();

      const replies = await Promise.all(Array.from({ length: 5 }, () => refreshTokens(gatehouse, client, refreshToken)));

      const pairs = replies.map(pairOf);
      assert.equal(new Set(pairs.map((pair) => pair.refreshToken)).size, 5, 'five different successors');
      for (const [i, pair] of pairs.entries()) await assertWorkingPair(client, pair, `request ${i}`);
      assert.equal((await grantRevoked(grantId)).revoked_at, null);
      assert.equal((await events('token.refresh_retried', grantId)).length, 4, 'one rotation, four retries');
      assert.deepEqual((await events('token.refresh_retried', grantId)).map((event) => event.data.retries), [1, 2, 3, 4]);
      assert.equal((await events('refresh_token.reuse_detected', grantId)).length, 0);
    });

    it('after the window, reuse revokes the family with refresh_token.reuse_detected', async () => {
      const { client, refreshToken, grantId } = await newGrant();
      const first = pairOf(await refreshTokens(gatehouse, client, refreshToken));
      await ageRotation(refreshToken);

      assertOAuthError(await refreshTokens(gatehouse, client, refreshToken), 400, 'invalid_grant', 'reuse after the window');
      const grant = await grantRevoked(grantId);
      assert.ok(grant.revoked_at);
      assert.equal(grant.revoked_reason, 'refresh_token_reuse');
      assert.equal((await events('refresh_token.reuse_detected', grantId)).length, 1);
      assert.equal((await events('token.refresh_retried', grantId)).length, 0);
      assertOAuthError(await refreshTokens(gatehouse, client, first.refreshToken), 400, 'invalid_grant', 'the successor dies with the grant');
      assert.equal(await isActive(gatehouse, asResource, first.accessToken), false);
    });

    it('once a successor was used, the token is spent: presenting it again within the window is reuse', async () => {
      const { client, refreshToken, grantId } = await newGrant();
      const first = pairOf(await refreshTokens(gatehouse, client, refreshToken));
      const second = pairOf(await refreshTokens(gatehouse, client, first.refreshToken));

      assertOAuthError(await refreshTokens(gatehouse, client, refreshToken), 400, 'invalid_grant');
      assert.equal((await grantRevoked(grantId)).revoked_reason, 'refresh_token_reuse');
      assert.equal((await events('refresh_token.reuse_detected', grantId)).length, 1);
      assertOAuthError(await refreshTokens(gatehouse, client, second.refreshToken), 400, 'invalid_grant');
    });

    it(`at most ${REFRESH_RETRY_LIMIT} retries per token: the next one is reuse`, async () => {
      const { client, refreshToken, grantId } = await newGrant();
      pairOf(await refreshTokens(gatehouse, client, refreshToken));
      for (let i = 0; i < REFRESH_RETRY_LIMIT; i++) pairOf(await refreshTokens(gatehouse, client, refreshToken));
      assert.equal((await grantRevoked(grantId)).revoked_at, null);

      assertOAuthError(await refreshTokens(gatehouse, client, refreshToken), 400, 'invalid_grant', 'one retry too many');
      assert.equal((await grantRevoked(grantId)).revoked_reason, 'refresh_token_reuse');
      assert.equal((await events('token.refresh_retried', grantId)).length, REFRESH_RETRY_LIMIT);
      assert.equal((await events('refresh_token.reuse_detected', grantId)).length, 1);
    });

    it('a retry by another client fails with invalid_grant and revokes nothing; the owner may still retry', async () => {
      const { client, refreshToken, grantId } = await newGrant();
      pairOf(await refreshTokens(gatehouse, client, refreshToken));
      const other = { client: await registerClient(gatehouse) };

      assertOAuthError(await refreshTokens(gatehouse, other, refreshToken), 400, 'invalid_grant', 'another client');
      assert.equal((await grantRevoked(grantId)).revoked_at, null);
      assert.equal((await events('token.refresh_retried', grantId)).length, 0);
      await assertWorkingPair(client, pairOf(await refreshTokens(gatehouse, client, refreshToken)), 'the owner’s retry');
    });

    it('a retry after the grant was revoked fails with invalid_grant and issues nothing', async () => {
      const { client, refreshToken, grantId } = await newGrant();
      const first = pairOf(await refreshTokens(gatehouse, client, refreshToken));
      assert.equal((await revoke(gatehouse, client, first.refreshToken)).status, 200);
      assert.ok((await grantRevoked(grantId)).revoked_at);
      const tokensBefore = await gatehouse.count('refresh_tokens');

      assertOAuthError(await refreshTokens(gatehouse, client, refreshToken), 400, 'invalid_grant', 'retry after revocation');
      assert.equal(await gatehouse.count('refresh_tokens'), tokensBefore, 'no successor');
      assert.equal((await events('token.refresh_retried', grantId)).length, 0);
    });

    it('a retry asking for a wider scope than the grant is reuse, not a retry', async () => {
      const { client, refreshToken, grantId } = await newGrant();
      pairOf(await refreshTokens(gatehouse, client, refreshToken));

      assertOAuthError(await refreshTokens(gatehouse, client, refreshToken, { scope: 'tools:read tools:write' }), 400, 'invalid_grant');
      assert.equal((await grantRevoked(grantId)).revoked_reason, 'refresh_token_reuse');
      assert.equal((await events('token.refresh_retried', grantId)).length, 0);
    });
  });
}
