import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { randomToken, sha256 } from '../../src/common/crypto.js';
import type { Tx } from '../../src/database/data-source.js';
import { AuthorizationCodeRepository } from '../../src/authorization/authorization-code.repository.js';
import { AuthorizationCodeEntity } from '../../src/authorization/authorization-code.entity.js';
import { RefreshTokenRepository, ROTATED } from '../../src/tokens/grant.repository.js';
import { Database } from '../../src/database/database.module.js';
import { AuditEventRepository, type NewChangeEvent } from '../../src/audit/audit-event.repository.js';
import { DATABASE_KINDS, barrier, openTestDatabase, skipUnless, type TestDatabase } from '../support/database.js';
import { insertParties, type Parties } from '../factories/rows.js';

const N = 10;

for (const kind of DATABASE_KINDS) {
  describe(`single-use rows under concurrency (${kind})`, { skip: skipUnless(kind) }, () => {
    let db: TestDatabase;
    let parties: Parties;
    /** PostgreSQL only: a separate session that watches the others wait for row locks. */
    let watcher: pg.Client | undefined;
    let refreshTokens: RefreshTokenRepository;
    let codes: AuthorizationCodeRepository;
    let events: AuditEventRepository;

    before(async () => {
      db = await openTestDatabase(kind);
      const database = new Database(db.dataSource);
      refreshTokens = new RefreshTokenRepository(database);
      codes = new AuthorizationCodeRepository(database);
      events = new AuditEventRepository(database);
      parties = await insertParties(db.dataSource);
      if (db.config.kind === 'postgres') {
        watcher = new pg.Client({ connectionString: db.config.url });
        await watcher.connect();
      }
    });
    after(async () => {
      await watcher?.end();
      await db?.close();
    });

    /** Sessions of this database blocked on a lock right now. */
    async function lockWaiters(): Promise<number> {
      const result = await watcher!.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`);
      return result.rows[0]?.n ?? 0;
    }

    /**
     * Runs `work` in N transactions at once. On PostgreSQL every transaction is open before any of them acts, and
     * one that gets a row keeps its transaction open until each of the others is either blocked on a lock or has
     * finished its work: with a correct implementation they are all blocked on the winner's row lock and decide
     * after it commits; with a racy one (read, then write) later "winners" follow and are counted.
     * PGlite has one session, so there the transactions run one after another.
     */
    async function race<T>(work: (tx: Tx) => Promise<T | null>): Promise<Array<T | null>> {
      if (kind === 'pglite') return Promise.all(Array.from({ length: N }, () => db.dataSource.transaction(work)));
      const arrive = barrier(N);
      let finished = 0;
      return Promise.all(
        Array.from({ length: N }, () =>
          db.dataSource.transaction(async (tx) => {
            await arrive();
            const result = await work(tx);
            finished++;
            if (result !== null) {
              for (let polls = 0; (await lockWaiters()) + finished - 1 < N - 1; polls++) {
                if (polls > 1000) throw new Error(`of the other ${N - 1} transactions, ${finished - 1} finished and the rest never blocked on a lock`);
                await sleep(10);
              }
            }
            return result;
          }),
        ),
      );
    }

    async function refreshToken(expires: 'live' | 'expired'): Promise<string> {
      const tokenHash = sha256(`gh_rt_${randomToken()}`);
      await refreshTokens.insert(db.dataSource.manager, { tokenHash, grantId: parties.grantId, parentHash: null, expiresAt: new Date() });
      const interval = expires === 'live' ? '1 hour' : '-1 minute';
      await db.dataSource.query(`UPDATE refresh_tokens SET expires_at = now() + $2::interval WHERE token_hash = $1`, [tokenHash, interval]);
      return tokenHash;
    }

    async function authorizationCode(expires: 'live' | 'expired'): Promise<{ codeHash: string; codeChallenge: string }> {
      const codeHash = sha256(randomToken());
      const codeChallenge = createHash('sha256').update(randomToken(48)).digest('base64url');
      await codes.insert(db.dataSource.manager, {
        codeHash,
        clientId: parties.clientId,
        userId: parties.userId,
        resourceId: parties.resourceId,
        scopes: ['tools:read', 'tools:execute'],
        redirectUri: 'http://127.0.0.1:49152/callback',
        codeChallenge,
        expiresAt: new Date(),
      });
      const interval = expires === 'live' ? '1 minute' : '-1 second';
      await db.dataSource.query(`UPDATE authorization_codes SET expires_at = now() + $2::interval WHERE code_hash = $1`, [codeHash, interval]);
      return { codeHash, codeChallenge };
    }

    type Rotation = Parameters<RefreshTokenRepository['rotation']>[0];
    const rotation = (tokenHash: string, request: Partial<Rotation> = {}) =>
      refreshTokens.rotation({
        tokenHash,
        clientId: parties.clientId,
        resource: null,
        scopes: null,
        successorHash: sha256(randomToken()),
        recordUseOf: null,
        useResolutionSeconds: 3600,
        ...request,
      });

    /** The refresh grant's change (RefreshTokenRepository.rotation) without its event, inside `tx`. */
    async function rotate(tx: Tx, tokenHash: string, request: Partial<Rotation> = {}): Promise<{ grantId: string; scopes: string[] } | null> {
      const change = rotation(tokenHash, request);
      const rows = (await tx.query(`${change.sql} SELECT grant_id, scopes FROM ${change.gate}`, change.params)) as Array<{ grant_id: string; scopes: string[] }>;
      return rows[0] ? { grantId: rows[0].grant_id, scopes: rows[0].scopes } : null;
    }

    /** The event the refresh grant writes with its change. */
    const refreshed = (): NewChangeEvent => ({
      type: 'token.refreshed',
      time: new Date(),
      actor: { kind: 'client', id: parties.clientId },
      clientId: parties.clientId,
      subject: ROTATED.userId,
      resource: ROTATED.resource,
      scopes: ROTATED.scopes,
      ip: null,
      userAgent: null,
      requestId: null,
      outcome: 'success',
      data: { grant_id: ROTATED.grantId, jti: randomToken(), scopes: ROTATED.scopes },
    });

    const successors = async (tokenHash: string): Promise<number> =>
      ((await db.dataSource.query(`SELECT count(*)::int AS n FROM refresh_tokens WHERE parent_hash = $1`, [tokenHash])) as Array<{ n: number }>)[0]!.n;

    describe('RefreshTokenRepository.rotation', () => {
      it(`gives a refresh token to exactly one of ${N} concurrent rotations, and stores exactly one successor`, async () => {
        const tokenHash = await refreshToken('live');
        const results = await race((tx) => rotate(tx, tokenHash));
        const winners = results.filter((result) => result !== null);
        assert.equal(winners.length, 1, `${winners.length} rotations succeeded`);
        assert.equal(winners[0]?.grantId, parties.grantId);
        assert.equal((await refreshTokens.inspect(tokenHash))?.rotated, true);
        assert.equal(await successors(tokenHash), 1);
      });

      it(`as the grant runs it, one statement with its event: exactly one of ${N} concurrent refreshes rotates, and one event is written`, async () => {
        const tokenHash = await refreshToken('live');
        const results = await Promise.all(Array.from({ length: N }, () => events.appendWith(rotation(tokenHash), [refreshed()])));
        const winners = results.filter((result) => result.row !== null);
        assert.equal(winners.length, 1, `${winners.length} rotations succeeded`);
        assert.ok(results.every((result) => (result.row === null) === (result.events.length === 0)), 'an event exactly when a row');
        const [event] = winners[0]!.events;
        assert.equal(event?.subject, parties.userId);
        assert.equal(event?.data.grant_id, parties.grantId);
        assert.deepEqual(event?.scopes, ['tools:read']);
        assert.deepEqual(event?.data.scopes, ['tools:read']);
        assert.equal(await successors(tokenHash), 1);
        const written = (await db.dataSource.query(`SELECT count(*)::int AS n FROM audit_events WHERE type = 'token.refreshed' AND data->>'jti' = $1`, [event?.data.jti])) as Array<{ n: number }>;
        assert.equal(written[0]?.n, 1);
      });

      it('rotates only for the grant’s client, its resource and scopes within the grant’s, and returns the access token’s scopes', async () => {
        const resource = ((await db.dataSource.query('SELECT resource FROM resource_servers WHERE id = $1', [parties.resourceId])) as Array<{ resource: string }>)[0]!.resource;
        const tokenHash = await refreshToken('live');
        for (const request of [{ clientId: randomToken() }, { resource: `${resource}/other` }, { scopes: ['tools:read', 'tools:execute'] }, { scopes: ['admin'] }]) {
          assert.equal(await db.dataSource.transaction((tx) => rotate(tx, tokenHash, request)), null, JSON.stringify(request));
        }
        assert.equal(await successors(tokenHash), 0);
        assert.deepEqual(await db.dataSource.transaction((tx) => rotate(tx, tokenHash, { resource, scopes: ['tools:read'] })), { grantId: parties.grantId, scopes: ['tools:read'] });
      });

      it('gives the successor the resource’s refresh token lifetime', async () => {
        const tokenHash = await refreshToken('live');
        const { row } = await events.appendWith(rotation(tokenHash), [refreshed()]);
        assert.ok(row);
        const [lifetime] = (await db.dataSource.query(
          `SELECT extract(epoch FROM t.expires_at - t.created_at)::int AS seconds, r.refresh_token_ttl AS ttl
             FROM refresh_tokens t JOIN grants g ON g.id = t.grant_id JOIN resource_servers r ON r.id = g.resource_id WHERE t.parent_hash = $1`,
          [tokenHash],
        )) as Array<{ seconds: number; ttl: number }>;
        assert.ok(lifetime && Math.abs(lifetime.seconds - lifetime.ttl) <= 1, JSON.stringify(lifetime));
        assert.deepEqual(row, { grantId: parties.grantId, userId: parties.userId, scopes: ['tools:read'], resource: row.resource, accessTokenTtl: row.accessTokenTtl });
        assert.ok(row.accessTokenTtl > 0 && row.resource.startsWith('https://'));
      });

      it('does not rotate a token twice', async () => {
        const tokenHash = await refreshToken('live');
        assert.ok(await db.dataSource.transaction((tx) => rotate(tx, tokenHash)));
        assert.equal(await db.dataSource.transaction((tx) => rotate(tx, tokenHash)), null);
      });

      it('leaves an expired token untouched and stores no successor', async () => {
        const tokenHash = await refreshToken('expired');
        assert.equal(await db.dataSource.transaction((tx) => rotate(tx, tokenHash)), null);
        const stored = await refreshTokens.inspect(tokenHash);
        assert.ok(stored, 'the row is still there');
        assert.deepEqual({ rotated: stored.rotated, expired: stored.expired }, { rotated: false, expired: true });
        assert.equal(await successors(tokenHash), 0);
      });

      it('rotates nothing for an unknown token', async () => {
        assert.equal(await db.dataSource.transaction((tx) => rotate(tx, sha256(randomToken()))), null);
      });

      it('undoes a rotation whose transaction rolls back', async () => {
        const tokenHash = await refreshToken('live');
        await assert.rejects(
          db.dataSource.transaction(async (tx) => {
            assert.ok(await rotate(tx, tokenHash));
            throw new Error('a later check failed');
          }),
          /a later check failed/,
        );
        assert.equal((await refreshTokens.inspect(tokenHash))?.rotated, false);
        assert.equal(await successors(tokenHash), 0);
        assert.ok(await db.dataSource.transaction((tx) => rotate(tx, tokenHash)));
      });
    });

    describe('AuthorizationCodeRepository.consume', () => {
      it(`gives a code to exactly one of ${N} concurrent exchanges, with every field`, async () => {
        const { codeHash, codeChallenge } = await authorizationCode('live');
        const results = await race((tx) => codes.consume(tx, codeHash));
        const winners = results.filter((result) => result !== null);
        assert.equal(winners.length, 1, `${winners.length} exchanges succeeded`);
        const code = winners[0]!;
        assert.ok(code instanceof AuthorizationCodeEntity);
        assert.equal(code.codeHash, codeHash);
        assert.equal(code.clientId, parties.clientId);
        assert.equal(code.userId, parties.userId);
        assert.equal(code.resourceId, parties.resourceId);
        assert.deepEqual(code.scopes, ['tools:read', 'tools:execute']);
        assert.equal(code.redirectUri, 'http://127.0.0.1:49152/callback');
        assert.equal(code.codeChallenge, codeChallenge);
        assert.equal(code.grantId, null);
        assert.ok(code.consumedAt instanceof Date && !Number.isNaN(code.consumedAt.getTime()));
        assert.ok(code.expiresAt.getTime() > code.createdAt.getTime());
      });

      it('does not consume a code twice', async () => {
        const { codeHash } = await authorizationCode('live');
        assert.ok(await db.dataSource.transaction((tx) => codes.consume(tx, codeHash)));
        assert.equal(await db.dataSource.transaction((tx) => codes.consume(tx, codeHash)), null);
      });

      it('leaves an expired code untouched', async () => {
        const { codeHash } = await authorizationCode('expired');
        assert.equal(await db.dataSource.transaction((tx) => codes.consume(tx, codeHash)), null);
        const stored = await db.dataSource.transaction((tx) => codes.findByHash(tx, codeHash));
        assert.ok(stored, 'the row is still there');
        assert.equal(stored.consumedAt, null);
      });

      it('consumes nothing for an unknown code', async () => {
        assert.equal(await db.dataSource.transaction((tx) => codes.consume(tx, sha256(randomBytes(32).toString('base64url')))), null);
      });

      it('undoes a consumption whose transaction rolls back', async () => {
        const { codeHash } = await authorizationCode('live');
        await assert.rejects(
          db.dataSource.transaction(async (tx) => {
            assert.ok(await codes.consume(tx, codeHash));
            throw new Error('PKCE verification failed');
          }),
          /PKCE/,
        );
        assert.ok(await db.dataSource.transaction((tx) => codes.consume(tx, codeHash)), 'the code can still be exchanged');
      });
    });
  });
}
