import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import type { Request } from 'express';
import { InvalidGrant } from '../../common/oauth-errors.js';
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

const CLIENT = { id: 'client-1', lastUsedAt: new Date(), metadata: { grant_types: ['authorization_code', 'refresh_token'] } } as unknown as ClientEntity;
const LIVE: PresentedRefreshToken = { grantId: 'grant-1', rotated: false, expired: false, revoked: false, userId: 'user-1', clientId: 'client-1', resourceId: 'rs-1', scopes: ['tools:read'] };
const RESOURCE = Object.assign(new ResourceServerEntity(), { id: 'rs-1', resource: 'https://mcp.example.com/mcp', refreshTokenTtl: 3600 });

/** A RefreshTokenGrant over fakes: `inspections` are what successive reads find; `rotates` whether the write happens. */
function grantWith(inspections: Array<PresentedRefreshToken | null>, rotates: boolean) {
  const calls = { writes: 0, revoked: [] as string[], events: [] as string[] };
  const refreshTokens = {
    inspect: async () => inspections.shift() ?? null,
    rotation: () => ({ sql: 'WITH rotated AS (SELECT 1)', params: [], gate: 'rotated' }),
  } as unknown as RefreshTokenRepository;
  const audit = {
    recordWith: async (_change: unknown, events: AuditEvent[]) => {
      calls.writes++;
      return rotates ? events : [];
    },
    record: async (_tx: unknown, event: AuditEvent) => void calls.events.push(event.type),
  } as unknown as AuditLog;
  const grants = { findById: async (id: string) => ({ id, userId: 'user-1', clientId: 'client-1' }) as GrantEntity } as unknown as GrantRepository;
  const grantsService = { revoke: async (_tx: unknown, grant: GrantEntity) => void calls.revoked.push(grant.id) } as unknown as GrantsService;
  const database = { transaction: async (work: (tx: unknown) => Promise<unknown>) => work({}), manager: {} } as unknown as Database;
  const resources = { get: async () => RESOURCE } as unknown as ResourcesService;
  const minter = { sign: () => ({ response: { access_token: 'at', token_type: 'Bearer', expires_in: 60, scope: 'tools:read', refresh_token: 'rt' }, claims: { jti: 'jti-1' } }) } as unknown as TokenMinter;
  const clients = { useRecorded: () => undefined } as unknown as ClientsService;
  const handler = new RefreshTokenGrant(database, grants, refreshTokens, resources, minter, audit, grantsService, clients);
  const refresh = () => handler.handle({ client: CLIENT, params: { grant_type: 'refresh_token', refresh_token: 'gh_rt_presented' }, req: {} as Request });
  return { refresh, calls };
}

const rejectsWith = (promise: Promise<unknown>, description: RegExp) =>
  assert.rejects(promise, (error: unknown) => error instanceof InvalidGrant && description.test(error.description));

describe('RefreshTokenGrant', () => {
  it('answers with the signed tokens when the one write rotated', async () => {
    const { refresh, calls } = grantWith([LIVE], true);
    const response = await refresh();
    assert.equal(response.access_token, 'at');
    assert.equal(calls.writes, 1);
    assert.deepEqual(calls.revoked, []);
  });

  it('treats a write that lost the race to a concurrent refresh as reuse: the grant is revoked', async () => {
    const { refresh, calls } = grantWith([LIVE, { ...LIVE, rotated: true }], false);
    await rejectsWith(refresh(), /already used; the grant has been revoked/);
    assert.deepEqual(calls.revoked, ['grant-1']);
    assert.deepEqual(calls.events, ['refresh_token.reuse_detected']);
  });

  it('refuses without revoking when the race was lost to a revocation', async () => {
    const { refresh, calls } = grantWith([LIVE, { ...LIVE, revoked: true }], false);
    await rejectsWith(refresh(), /has been revoked/);
    assert.deepEqual(calls.revoked, []);
  });

  it('never writes for an unknown, foreign, revoked or expired token, and revokes only on its own client’s reuse', async () => {
    const cases: Array<[PresentedRefreshToken | null, RegExp]> = [
      [null, /is invalid/],
      [{ ...LIVE, clientId: 'someone-else' }, /issued to another client/],
      [{ ...LIVE, clientId: 'someone-else', rotated: true }, /issued to another client/],
      [{ ...LIVE, revoked: true }, /has been revoked/],
      [{ ...LIVE, expired: true }, /has expired/],
    ];
    for (const [token, description] of cases) {
      const { refresh, calls } = grantWith([token], true);
      await rejectsWith(refresh(), description);
      assert.equal(calls.writes, 0, String(description));
      assert.deepEqual(calls.revoked, [], String(description));
    }
    const { refresh, calls } = grantWith([{ ...LIVE, rotated: true }], true);
    await rejectsWith(refresh(), /already used/);
    assert.equal(calls.writes, 0);
    assert.deepEqual(calls.revoked, ['grant-1']);
  });
});
