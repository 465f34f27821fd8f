import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import type { Request } from 'express';
import { InvalidGrant, InvalidScope, InvalidTarget, type OAuthError } from '../../common/oauth-errors.js';
import type { Database } from '../../database/database.module.js';
import type { AuditEvent, AuditLog } from '../../audit/audit-log.js';
import type { ClientEntity } from '../../registration/client.entity.js';
import type { ClientsService } from '../../registration/clients.service.js';
import { ResourceServerEntity } from '../../resources/resource-server.entity.js';
import type { ResourcesService } from '../../resources/resources.service.js';
import type { GrantEntity } from '../grant.entity.js';
import type { GrantRepository, PresentedRefreshToken, RefreshTokenRepository } from '../grant.repository.js';
import type { GrantsService } from '../grants.service.js';
import type { TokenMinter } from '../token-minter.js';
import { RefreshTokenGrant } from './refresh-token.grant.js';
import type { KeyService } from '../../keys/key.service.js';

const CLIENT = { id: 'client-1', lastUsedAt: new Date(), metadata: { grant_types: ['authorization_code', 'refresh_token'] } } as unknown as ClientEntity;
const LIVE: PresentedRefreshToken = { grantId: 'grant-1', usable: true, rotated: false, expired: false, revoked: false,
  userDisabled: false, userId: 'user-1', clientId: 'client-1', resourceId: 'rs-1', scopes: ['tools:read'], dpopJkt: null, requireDpop: false };
/** LIVE with `changes`: usable, as the statement would say, unless rotated, revoked or expired. */
const token = (changes: Partial<PresentedRefreshToken>): PresentedRefreshToken => {
  const presented = { ...LIVE, ...changes };
  return { ...presented, usable: !presented.rotated && !presented.revoked && !presented.expired };
};
const RESOURCE = Object.assign(new ResourceServerEntity(), { id: 'rs-1', resource: 'https://mcp.example.com/mcp', refreshTokenTtl: 3600 });

const ROTATED_ROW = { grantId: 'grant-1', userId: 'user-1', scopes: ['tools:read'], resource: RESOURCE.resource, accessTokenTtl: 60 };

/**
 * A RefreshTokenGrant over fakes: `rotates` whether the one statement rotates; `inspections` are what successive
 * reads of the diagnosis find; `grace` the reuse grace in seconds (0: strict) and `retries` whether the retry
 * statement finds a retry.
 */
function grantWith(inspections: Array<PresentedRefreshToken | null>, rotates: boolean, canSign = true, { grace = 0, retries = false } = {}) {
  const calls = { writes: [] as string[], reads: 0, revoked: [] as string[], events: [] as string[], signed: [] as Array<{ jti: string | undefined; scopes: string[] }> };
  const refreshTokens = {
    inspect: async () => (calls.reads++, inspections.shift() ?? null),
    rotation: () => ({ name: 'rotation' }),
    retry: (change: { graceSeconds: number; maxRetries: number }) => ({ name: `retry ${change.graceSeconds}s ≤${change.maxRetries}` }),
  } as unknown as RefreshTokenRepository;
  const audit = {
    recordWith: async (change: { name: string }, events: AuditEvent[]) => {
      calls.writes.push(change.name);
      const changed = change.name === 'rotation' ? rotates : retries;
      if (changed) calls.events.push(...events.map((event) => event.type));
      return changed ? { events, row: ROTATED_ROW } : { events: [], row: null };
    },
    record: async (_tx: unknown, event: AuditEvent) => void calls.events.push(event.type),
  } as unknown as AuditLog;
  const grants = { findById: async (id: string) => ({ id, userId: 'user-1', clientId: 'client-1' }) as GrantEntity } as unknown as GrantRepository;
  const grantsService = { revoke: async (_tx: unknown, grant: GrantEntity) => void calls.revoked.push(grant.id) } as unknown as GrantsService;
  const database = { transaction: async (work: (tx: unknown) => Promise<unknown>) => work({}), manager: {} } as unknown as Database;
  const resources = { get: async () => RESOURCE } as unknown as ResourcesService;
  const minter = {
    sign: (input: { jti?: string; scopes: string[] }) => (
      calls.signed.push({ jti: input.jti, scopes: input.scopes }),
      { response: { access_token: 'at', token_type: 'Bearer', expires_in: 60, scope: input.scopes.join(' '), refresh_token: 'rt' }, claims: { jti: input.jti } }
    ),
  } as unknown as TokenMinter;
  const clients = { useRecorded: () => undefined } as unknown as ClientsService;
  const keys = {
    assertCanSign: () => {
      if (!canSign) throw new Error('no active signing key');
    },
  } as unknown as KeyService;
  const handler = new RefreshTokenGrant(database, grants, refreshTokens, resources, minter, audit, grantsService, clients, keys, { refreshReuseGraceSeconds: grace });
  const refresh = (extra: Record<string, string> = {}) =>
    handler.handle({ client: CLIENT, params: { grant_type: 'refresh_token', refresh_token: 'gh_rt_presented', ...extra }, req: {} as Request });
  return { refresh, calls };
}

const rejectsWith = (promise: Promise<unknown>, description: RegExp, type: new (...args: never[]) => OAuthError = InvalidGrant) =>
  assert.rejects(promise, (error: unknown) => error instanceof type && description.test(error.description));

describe('RefreshTokenGrant', () => {
  it('answers with tokens signed from what the one statement found, without reading first', async () => {
    const { refresh, calls } = grantWith([], true);
    const response = await refresh();
    assert.equal(response.access_token, 'at');
    assert.deepEqual(calls.writes, ['rotation']);
    assert.equal(calls.reads, 0);
    assert.deepEqual(calls.events, ['token.refreshed']);
    assert.equal(calls.signed.length, 1);
    assert.ok(calls.signed[0]?.jti, 'the jti the event was written with');
    assert.deepEqual(calls.revoked, []);
  });

  it('rotates nothing when no token could be signed afterwards (signing follows the commit)', async () => {
    const { refresh, calls } = grantWith([], true, false);
    await assert.rejects(refresh(), /no active signing key/);
    assert.deepEqual(calls.writes, []);
    assert.deepEqual(calls.events, []);
  });

  it('treats a write that lost the race to a concurrent refresh as reuse: the grant is revoked', async () => {
    const { refresh, calls } = grantWith([token({ rotated: true })], false);
    await rejectsWith(refresh(), /already used; the grant has been revoked/);
    assert.deepEqual(calls.revoked, ['grant-1']);
    assert.deepEqual(calls.events, ['refresh_token.reuse_detected']);
    assert.equal(calls.signed.length, 0);
  });

  it('refuses without revoking when the race was lost to a revocation', async () => {
    const { refresh, calls } = grantWith([token({ revoked: true })], false);
    await rejectsWith(refresh(), /has been revoked/);
    assert.deepEqual(calls.revoked, []);
  });

  it('diagnoses an unknown, foreign, revoked or expired token with one read, and revokes only on its own client’s reuse', async () => {
    const cases: Array<[PresentedRefreshToken | null, RegExp]> = [
      [null, /is invalid/],
      [token({ clientId: 'someone-else' }), /issued to another client/],
      [token({ clientId: 'someone-else', rotated: true }), /issued to another client/],
      [token({ revoked: true }), /has been revoked/],
      [token({ expired: true }), /has expired/],
      [LIVE, /could not be rotated; try again/],
    ];
    for (const [token, description] of cases) {
      const { refresh, calls } = grantWith([token], false);
      await rejectsWith(refresh(), description);
      assert.equal(calls.reads, 1, String(description));
      assert.deepEqual(calls.revoked, [], String(description));
      assert.equal(calls.signed.length, 0, String(description));
    }
    const { refresh, calls } = grantWith([token({ rotated: true })], false);
    await rejectsWith(refresh(), /already used/);
    assert.deepEqual(calls.revoked, ['grant-1']);
  });

  it('answers invalid_target and invalid_scope for a usable token the request does not fit, the token’s own faults first', async () => {
    await rejectsWith(grantWith([LIVE], false).refresh({ resource: 'https://elsewhere.example.com/mcp' }), /resource does not match/, InvalidTarget);
    await rejectsWith(grantWith([LIVE], false).refresh({ scope: 'tools:read tools:execute' }), /scope exceeds what was granted: tools:execute/, InvalidScope);
    await rejectsWith(grantWith([LIVE], false).refresh({ resource: 'https://elsewhere.example.com/mcp', scope: 'admin' }), /resource does not match/, InvalidTarget);
    await rejectsWith(grantWith([token({ expired: true })], false).refresh({ resource: 'https://elsewhere.example.com/mcp' }), /has expired/);
  });

  it('does not even try to rotate for a resource that is not a URL', async () => {
    const { refresh, calls } = grantWith([LIVE], true);
    await rejectsWith(refresh({ resource: 'not a url' }), /resource does not match/, InvalidTarget);
    assert.deepEqual(calls.writes, []);
  });

  describe('with a reuse grace', () => {
    const grace = { grace: 30 };

    it('answers a retry of a rotated token with the retry statement’s successor, revoking nothing', async () => {
      const { refresh, calls } = grantWith([token({ rotated: true })], false, true, { ...grace, retries: true });
      const response = await refresh();
      assert.equal(response.access_token, 'at');
      assert.deepEqual(calls.writes, ['rotation', 'retry 30s ≤10']);
      assert.equal(calls.reads, 1);
      assert.deepEqual(calls.events, ['token.refresh_retried']);
      assert.deepEqual(calls.revoked, []);
      assert.equal(calls.signed.length, 1);
      assert.ok(calls.signed[0]?.jti, 'the jti the event was written with');
    });

    it('treats a presentation the retry statement refuses (window, bound, used successor, request) as reuse', async () => {
      const { refresh, calls } = grantWith([token({ rotated: true })], false, true, grace);
      await rejectsWith(refresh(), /already used; the grant has been revoked/);
      assert.deepEqual(calls.writes, ['rotation', 'retry 30s ≤10']);
      assert.deepEqual(calls.revoked, ['grant-1']);
      assert.deepEqual(calls.events, ['refresh_token.reuse_detected']);
      assert.equal(calls.signed.length, 0);
    });

    it('tries no retry for a token that was not rotated, or is another client’s', async () => {
      const cases: Array<[PresentedRefreshToken | null, RegExp]> = [
        [null, /is invalid/],
        [token({ clientId: 'someone-else', rotated: true }), /issued to another client/],
        [token({ revoked: true }), /has been revoked/],
        [token({ expired: true }), /has expired/],
      ];
      for (const [token, description] of cases) {
        const { refresh, calls } = grantWith([token], false, true, { ...grace, retries: true });
        await rejectsWith(refresh(), description);
        assert.deepEqual(calls.writes, ['rotation'], String(description));
        assert.deepEqual(calls.revoked, [], String(description));
        assert.equal(calls.signed.length, 0, String(description));
      }
    });
  });
});
