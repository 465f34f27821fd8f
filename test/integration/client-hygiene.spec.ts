import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { sha256 } from '../../src/common/crypto.js';
import { runMigrations } from '../../src/database/migration-runner.js';
import { ClientRepository, type ExpiredClient } from '../../src/registration/client.repository.js';
import { InitialAccessTokenRepository } from '../../src/registration/initial-access-token.repository.js';
import { MIGRATIONS } from '../../migrations/index.js';
import { ClientHygiene1795330800000 } from '../../migrations/1795330800000-ClientHygiene.js';
import { DATABASE_KINDS, openTestDatabase, skipUnless, type TestDatabase } from '../support/database.js';
import { clientIds, countRows, insertClientRow, insertClientRows, insertGrantRow, insertResourceRow } from '../factories/clients.js';

const DAY = 86_400;
/** The defaults: unused clients go after 24 hours, idle ones after 90 days (plus the hour of last-use resolution). */
const TTL = { unusedSeconds: DAY, idleSeconds: 90 * DAY + 3600 };
/** The metadata-document defaults: their unused lifetime runs from the last use, so it gets the hour too. */
const DOCUMENT_TTL = { unusedSeconds: DAY + 3600, idleSeconds: 90 * DAY + 3600 };

for (const kind of DATABASE_KINDS) {
  describe(`client hygiene in the database (${kind})`, { skip: skipUnless(kind) }, () => {
    let db: TestDatabase;
    let clients: ClientRepository;
    let tokens: InitialAccessTokenRepository;
    let resourceId: string;

    before(async () => {
      db = await openTestDatabase(kind);
      clients = new ClientRepository(db.dataSource);
      tokens = new InitialAccessTokenRepository(db.dataSource);
      resourceId = await insertResourceRow(db.dataSource);
    });
    after(async () => {
      await db?.close();
    });

    const expire = (limit = 1000, ttl: { unusedSeconds: number; idleSeconds: number | null } = TTL): Promise<ExpiredClient[]> =>
      db.dataSource.transaction((tx) => clients.deleteExpired(tx, ttl, limit));
    const clear = () => db.dataSource.query('DELETE FROM clients');

    it('deletes never-used and idle dynamic clients, saying why, and keeps everything else', async () => {
      await clear();
      const unused = await insertClientRow(db.dataSource, { registeredAgo: '25 hours' });
      const idle = await insertClientRow(db.dataSource, { registeredAgo: '200 days', lastUsedAgo: '91 days 2 hours' });
      const young = await insertClientRow(db.dataSource, { registeredAgo: '23 hours' });
      const recent = await insertClientRow(db.dataSource, { registeredAgo: '200 days', lastUsedAgo: '89 days' });
      // Within the hour that last_used_at may lag behind the true last use: kept.
      const atTheEdge = await insertClientRow(db.dataSource, { registeredAgo: '200 days', lastUsedAgo: '90 days 30 minutes' });
      const kept = [
        young,
        recent,
        atTheEdge,
        await insertClientRow(db.dataSource, { kind: 'static', registeredAgo: '2 years' }),
        await insertClientRow(db.dataSource, { kind: 'static', registeredAgo: '2 years', lastUsedAgo: '1 year' }),
        await insertClientRow(db.dataSource, { kind: 'metadata_document', registeredAgo: '2 years' }),
        await insertClientRow(db.dataSource, { kind: 'metadata_document', registeredAgo: '2 years', lastUsedAgo: '1 year' }),
      ];
      const expired = await expire();
      assert.deepEqual(expired.map((client) => [client.id, client.kind, client.reason]).sort(), [[idle, 'dynamic', 'idle'], [unused, 'dynamic', 'never_used']].sort());
      const idleRow = expired.find((client) => client.id === idle)!;
      assert.ok(idleRow.lastUsedAt instanceof Date && Date.now() - idleRow.lastUsedAt.getTime() > 91 * DAY * 1000);
      assert.ok(expired.every((client) => client.createdAt instanceof Date && !Number.isNaN(client.createdAt.getTime())));
      assert.deepEqual([...(await clientIds(db.dataSource))].sort(), [...kept].sort());
    });

    it('keeps an expired client while it has a live refresh token, and deletes its dead grants with it', async () => {
      await clear();
      const live = await insertClientRow(db.dataSource, { registeredAgo: '1 year', lastUsedAgo: '200 days' });
      await insertGrantRow(db.dataSource, live, resourceId, { refreshTokens: [{ expiresIn: '-100 days', rotated: true }, { expiresIn: '10 days' }] });
      const liveNeverUsed = await insertClientRow(db.dataSource, { registeredAgo: '2 days' });
      await insertGrantRow(db.dataSource, liveNeverUsed, resourceId, { refreshTokens: [{ expiresIn: '1 hour' }] });
      // Dead in each way a refresh token can be: rotated, expired, or its grant revoked.
      const rotated = await insertClientRow(db.dataSource, { registeredAgo: '1 year', lastUsedAgo: '200 days' });
      await insertGrantRow(db.dataSource, rotated, resourceId, { refreshTokens: [{ expiresIn: '10 days', rotated: true }] });
      const expiredToken = await insertClientRow(db.dataSource, { registeredAgo: '1 year', lastUsedAgo: '200 days' });
      await insertGrantRow(db.dataSource, expiredToken, resourceId, { refreshTokens: [{ expiresIn: '-1 minute' }] });
      const revoked = await insertClientRow(db.dataSource, { registeredAgo: '1 year', lastUsedAgo: '200 days' });
      await insertGrantRow(db.dataSource, revoked, resourceId, { revoked: true, refreshTokens: [{ expiresIn: '10 days' }] });
      // A live refresh token of another client protects nothing here.
      const other = await insertClientRow(db.dataSource, { registeredAgo: '1 year', lastUsedAgo: '200 days' });

      const expired = await expire();
      assert.deepEqual(expired.map((client) => client.id).sort(), [rotated, expiredToken, revoked, other].sort());
      assert.deepEqual([...(await clientIds(db.dataSource))].sort(), [live, liveNeverUsed].sort());
      const orphans = (await db.dataSource.query('SELECT count(*)::int AS n FROM grants WHERE client_id <> ALL($1::text[])', [[live, liveNeverUsed]])) as Array<{ n: number }>;
      assert.equal(orphans[0]?.n, 0, 'the deleted clients took their grants (and refresh tokens) with them');
    });

    const expireDocuments = (limit = 1000, ttl: { unusedSeconds: number; idleSeconds: number | null } = DOCUMENT_TTL): Promise<ExpiredClient[]> =>
      db.dataSource.transaction((tx) => clients.deleteExpiredMetadataDocuments(tx, ttl, limit));

    it('deletes metadata-document clients never issued tokens a day after their last use, and idle ones; keeps live refresh tokens and other kinds', async () => {
      await clear();
      const document = (spec: { registeredAgo?: string; lastUsedAgo?: string | null } = {}) => insertClientRow(db.dataSource, { kind: 'metadata_document', ...spec });
      // Recorded by an /authorize that went no further, a day and more ago (by last use, or when recorded if no use).
      const abandoned = await document({ registeredAgo: '3 days', lastUsedAgo: '25 hours 30 minutes' });
      const abandonedNoUse = await document({ registeredAgo: '25 hours 30 minutes' });
      // Issued tokens once, then nothing for 90 days and more: its grant's refresh tokens are all dead.
      const idle = await document({ registeredAgo: '1 year', lastUsedAgo: '91 days 2 hours' });
      await insertGrantRow(db.dataSource, idle, resourceId, { refreshTokens: [{ expiresIn: '-10 days' }, { expiresIn: '5 days', rotated: true }] });
      const kept = {
        // Within the hour that last_used_at may lag behind the true last use (an /authorize a minute ago): kept.
        abandonedAtTheEdge: await document({ registeredAgo: '3 days', lastUsedAgo: '24 hours 30 minutes' }),
        young: await document({ registeredAgo: '2 hours', lastUsedAgo: '2 hours' }),
        // Issued tokens: the day's lifetime does not apply, only the idle one.
        issued: await document({ registeredAgo: '1 year', lastUsedAgo: '30 days' }),
        issuedIdleWithLiveRefreshToken: await document({ registeredAgo: '1 year', lastUsedAgo: '200 days' }),
        dynamicUnused: await insertClientRow(db.dataSource, { registeredAgo: '3 days' }),
        staticIdle: await insertClientRow(db.dataSource, { kind: 'static', registeredAgo: '2 years', lastUsedAgo: '2 years' }),
      };
      await insertGrantRow(db.dataSource, kept.issued, resourceId, { revoked: true });
      await insertGrantRow(db.dataSource, kept.issuedIdleWithLiveRefreshToken, resourceId, { refreshTokens: [{ expiresIn: '3 days' }] });

      const expired = await expireDocuments();
      assert.deepEqual(
        expired.map((client) => [client.id, client.kind, client.reason]).sort(),
        [
          [abandoned, 'metadata_document', 'never_issued_tokens'],
          [abandonedNoUse, 'metadata_document', 'never_issued_tokens'],
          [idle, 'metadata_document', 'idle'],
        ].sort(),
      );
      assert.equal(expired.find((client) => client.id === abandonedNoUse)?.lastUsedAt, null);
      assert.ok(expired.every((client) => client.createdAt instanceof Date && !Number.isNaN(client.createdAt.getTime())));
      assert.deepEqual([...(await clientIds(db.dataSource))].sort(), Object.values(kept).sort());
      assert.equal(await countRows(db.dataSource, 'SELECT 1 FROM grants WHERE client_id = $1', [idle]), 0, 'its grant went with it');
      assert.deepEqual(await expireDocuments(), [], 'a second call finds nothing');
    });

    it('keeps idle metadata-document clients when the idle lifetime is off, and deletes at most `limit` per call', async () => {
      await clear();
      for (let i = 0; i < 4; i++) {
        const issued = await insertClientRow(db.dataSource, { kind: 'metadata_document', registeredAgo: '1 year', lastUsedAgo: '1 year' });
        await insertGrantRow(db.dataSource, issued, resourceId);
      }
      for (let i = 0; i < 7; i++) await insertClientRow(db.dataSource, { kind: 'metadata_document', registeredAgo: '2 days', lastUsedAgo: '2 days' });
      const sizes: number[] = [];
      for (let n = -1; n !== 0; ) sizes.push((n = (await expireDocuments(3, { unusedSeconds: DAY + 3600, idleSeconds: null })).length));
      assert.deepEqual(sizes, [3, 3, 1, 0]);
      assert.equal((await clientIds(db.dataSource)).size, 4, 'the clients issued tokens stay when CIMD_IDLE_CLIENT_DAYS=0');
      assert.equal((await expireDocuments()).length, 4);
    });

    it('deletes at most `limit` per call, and never idle clients when the idle lifetime is off', async () => {
      await clear();
      await insertClientRows(db.dataSource, 25, { registeredAgo: '3 days' });
      await insertClientRows(db.dataSource, 4, { registeredAgo: '1 year', lastUsedAgo: '1 year' });
      const sizes: number[] = [];
      for (let n = -1; n !== 0; ) sizes.push((n = (await expire(10, { unusedSeconds: DAY, idleSeconds: null })).length));
      assert.deepEqual(sizes, [10, 10, 5, 0]);
      assert.equal((await clientIds(db.dataSource)).size, 4, 'idle clients stay when DCR_IDLE_CLIENT_DAYS=0');
      assert.equal((await expire()).length, 4);
    });

    it('records a use only when the recorded one is older than the resolution', async () => {
      await clear();
      const never = await insertClientRow(db.dataSource);
      const stale = await insertClientRow(db.dataSource, { lastUsedAgo: '2 hours' });
      const fresh = await insertClientRow(db.dataSource, { lastUsedAgo: '10 minutes' });
      const before = await lastUsed();
      await db.dataSource.transaction(async (tx) => {
        for (const id of [never, stale, fresh]) await clients.recordUse(tx, id, 3600);
      });
      const after = await lastUsed();
      for (const id of [never, stale]) assert.ok(after.get(id)! > Date.now() - 60_000, `${id} was recorded as used now`);
      assert.equal(after.get(fresh), before.get(fresh), 'a fresh use is not written again');
    });

    async function lastUsed(): Promise<Map<string, number | null>> {
      const rows = (await db.dataSource.query('SELECT id, last_used_at FROM clients')) as Array<{ id: string; last_used_at: Date | null }>;
      return new Map(rows.map((row) => [row.id, row.last_used_at ? new Date(row.last_used_at).getTime() : null]));
    }

    it('finds superseded registrations only among old, never-used, grantless dynamic clients with the same fingerprint and token', async () => {
      await clear();
      const fingerprint = randomBytes(32).toString('hex');
      const token = await tokens.insert(db.dataSource.manager, { tokenHash: sha256(randomBytes(32).toString('base64url')), description: null, maxRegistrations: null, expiresAt: null });
      const old = await insertClientRow(db.dataSource, { fingerprint, registeredAgo: '11 minutes' });
      const older = await insertClientRow(db.dataSource, { fingerprint, registeredAgo: '3 days' });
      const kept = [
        await insertClientRow(db.dataSource, { fingerprint, registeredAgo: '9 minutes' }),
        await insertClientRow(db.dataSource, { fingerprint, registeredAgo: '11 minutes', lastUsedAgo: '10 minutes' }),
        await insertClientRow(db.dataSource, { fingerprint: randomBytes(32).toString('hex'), registeredAgo: '11 minutes' }),
        await insertClientRow(db.dataSource, { fingerprint, registeredAgo: '11 minutes', initialAccessTokenId: token.id }),
        await insertClientRow(db.dataSource, { kind: 'static', fingerprint, registeredAgo: '11 minutes' }),
      ];
      const withGrant = await insertClientRow(db.dataSource, { fingerprint, registeredAgo: '11 minutes' });
      await insertGrantRow(db.dataSource, withGrant, resourceId, { revoked: true });
      kept.push(withGrant);

      const superseded = await db.dataSource.transaction((tx) =>
        clients.deleteSuperseded(tx, { fingerprint, initialAccessTokenId: null, registeredBeforeSeconds: 600, limit: 100 }),
      );
      assert.deepEqual(superseded.map((client) => client.id).sort(), [older, old].sort());
      assert.ok(superseded.every((client) => client.reason === 'superseded' && client.lastUsedAt === null));
      assert.deepEqual([...(await clientIds(db.dataSource))].sort(), [...kept].sort());

      const sameToken = await db.dataSource.transaction((tx) =>
        clients.deleteSuperseded(tx, { fingerprint, initialAccessTokenId: token.id, registeredBeforeSeconds: 600, limit: 100 }),
      );
      assert.equal(sameToken.length, 1, 'with the same initial access token, that one goes');
    });

    it('counts clients of one kind only, and never past the limit asked for', async () => {
      await clear();
      await insertClientRows(db.dataSource, 7);
      await insertClientRows(db.dataSource, 3, { kind: 'static' });
      await insertClientRow(db.dataSource, { kind: 'metadata_document' });
      assert.equal(await clients.countKind(db.dataSource.manager, 'dynamic', 100), 7);
      assert.equal(await clients.countKind(db.dataSource.manager, 'dynamic', 5), 5);
      assert.equal(await clients.countKind(db.dataSource.manager, 'metadata_document', 100), 1);
    });

    it('uses an initial access token up atomically, and never a revoked or expired one', async () => {
      const hash = (label: string) => sha256(`gh_iat_${label}_${randomBytes(8).toString('hex')}`);
      const limited = hash('limited');
      await tokens.insert(db.dataSource.manager, { tokenHash: limited, description: 'two uses', maxRegistrations: 2, expiresAt: null });
      const consume = (tokenHash: string) => db.dataSource.transaction((tx) => tokens.consume(tx, tokenHash));
      assert.ok(await tokens.findUsable(limited));
      const results = await Promise.all(Array.from({ length: 6 }, () => consume(limited)));
      assert.equal(results.filter(Boolean).length, 2, 'exactly max_registrations uses, however many try at once');
      assert.equal(await tokens.findUsable(limited), null);
      const row = (await db.dataSource.query('SELECT registrations FROM initial_access_tokens WHERE token_hash = $1', [limited])) as Array<{ registrations: number }>;
      assert.equal(row[0]?.registrations, 2);

      const revoked = hash('revoked');
      const { id } = await tokens.insert(db.dataSource.manager, { tokenHash: revoked, description: null, maxRegistrations: null, expiresAt: null });
      assert.equal(await db.dataSource.transaction((tx) => tokens.revoke(tx, id)), true);
      assert.equal(await db.dataSource.transaction((tx) => tokens.revoke(tx, id)), false, 'already revoked');
      assert.equal(await consume(revoked), null);

      const expired = hash('expired');
      await tokens.insert(db.dataSource.manager, { tokenHash: expired, description: null, maxRegistrations: null, expiresAt: new Date(Date.now() - 1000) });
      assert.equal(await tokens.findUsable(expired), null);
      assert.equal(await consume(expired), null);

      const unlimited = hash('unlimited');
      await tokens.insert(db.dataSource.manager, { tokenHash: unlimited, description: null, maxRegistrations: null, expiresAt: new Date(Date.now() + 60_000) });
      for (let i = 0; i < 5; i++) assert.ok(await consume(unlimited));
      assert.equal(await consume(hash('unknown')), null);
    });
  });

  describe(`ClientHygiene migration (${kind})`, { skip: skipUnless(kind) }, () => {
    let db: TestDatabase;
    before(async () => {
      db = await openTestDatabase(kind, { migrate: false });
    });
    after(async () => {
      await db?.close();
    });

    it('takes the last use of existing clients from their grants, refresh tokens, codes and interactions', async () => {
      await runMigrations(db.dataSource, MIGRATIONS.slice(0, MIGRATIONS.indexOf(ClientHygiene1795330800000)));
      const ds = db.dataSource;
      const resourceId = await insertResourceRow(ds);
      const insertOld = async (name: string) => {
        const id = `client-${name}`;
        await ds.query(`INSERT INTO clients (id, kind, metadata, created_at) VALUES ($1, 'dynamic', '{"redirect_uris":["http://127.0.0.1/cb"]}'::jsonb, now() - interval '1 year')`, [id]);
        return id;
      };
      const user = ((await ds.query(`INSERT INTO users (display_name) VALUES ('u') RETURNING id`)) as Array<{ id: string }>)[0]!.id;
      const viaRefresh = await insertOld('refresh');
      const grant = ((await ds.query(
        `INSERT INTO grants (user_id, client_id, resource_id, scopes, created_at) VALUES ($1, $2, $3, ARRAY['a'], now() - interval '100 days') RETURNING id`,
        [user, viaRefresh, resourceId],
      )) as Array<{ id: string }>)[0]!.id;
      await ds.query(`INSERT INTO refresh_tokens (token_hash, grant_id, created_at, expires_at) VALUES ('h1', $1, now() - interval '3 days', now() + interval '27 days')`, [grant]);
      const viaInteraction = await insertOld('interaction');
      await ds.query(
        `INSERT INTO interactions (id, browser_hash, client_id, resource_id, redirect_uri, scopes, code_challenge, created_at, expires_at)
         VALUES ('i1', 'h', $1, $2, 'http://127.0.0.1/cb', ARRAY['a'], 'c', now() - interval '5 minutes', now() + interval '5 minutes')`,
        [viaInteraction, resourceId],
      );
      const viaCode = await insertOld('code');
      await ds.query(
        `INSERT INTO authorization_codes (code_hash, client_id, user_id, resource_id, scopes, redirect_uri, code_challenge, created_at, expires_at)
         VALUES ('c1', $1, $2, $3, ARRAY['a'], 'http://127.0.0.1/cb', 'c', now() - interval '20 days', now() - interval '20 days')`,
        [viaCode, user, resourceId],
      );
      const unused = await insertOld('unused');

      await runMigrations(ds, MIGRATIONS);
      const rows = (await ds.query(`SELECT id, extract(epoch FROM now() - last_used_at)::int AS seconds FROM clients`)) as Array<{ id: string; seconds: number | null }>;
      const ago = new Map(rows.map((row) => [row.id, row.seconds]));
      const near = (id: string, seconds: number) => assert.ok(Math.abs((ago.get(id) ?? -1e9) - seconds) < 120, `${id}: ${ago.get(id)} s ago, expected about ${seconds}`);
      near(viaRefresh, 3 * DAY);
      near(viaInteraction, 300);
      near(viaCode, 20 * DAY);
      assert.equal(ago.get(unused), null, 'a client that left nothing behind counts as never used');
    });
  });
}
