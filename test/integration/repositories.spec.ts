import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { randomToken, sha256 } from '../../src/common/crypto.js';
import type { Tx } from '../../src/database/data-source.js';
import { AuthorizationCodeRepository } from '../../src/authorization/authorization-code.repository.js';
import { RefreshTokenRepository } from '../../src/tokens/grant.repository.js';
import { Database } from '../../src/database/database.module.js';
import { AuditEventRepository } from '../../src/audit/audit-event.repository.js';
import type { AuditedChange } from '../../src/audit/audit-event-insert.js';
import { AuditLog, type AuditEvent } from '../../src/audit/audit-log.js';
import { AuditNotifier } from '../../src/audit/audit-notifier.js';
import { MetricsService } from '../../src/metrics/metrics.service.js';
import { runStatement, sql, sqlText, Statement, type SqlFragment } from '../../src/database/sql.js';
import { InteractionHandleRepository } from '../../src/authorization/interaction-handle.repository.js';
import type { CompletionGuard } from '../../src/authorization/interaction.repository.js';
import { DATABASE_KINDS, barrier, openTestDatabase, skipUnless, type TestDatabase } from '../support/database.js';
import { insertInteraction, insertParties, insertUser, type Parties } from '../factories/rows.js';

const N = 10;

for (const kind of DATABASE_KINDS) {
  describe(`single-use rows under concurrency (${kind})`, { skip: skipUnless(kind) }, () => {
    let db: TestDatabase;
    let parties: Parties;
    /** PostgreSQL only: a separate session that watches the others wait for row locks. */
    let watcher: pg.Client | undefined;
    let refreshTokens: RefreshTokenRepository;
    let codes: AuthorizationCodeRepository;
    let events: AuditLog;
    let handles: InteractionHandleRepository;

    /** The refresh token whose `column` is `value` lives as long as its resource's refresh_token_ttl (to the second). */
    async function assertResourceRefreshLifetime(column: 'parent_hash' | 'grant_id', value: string): Promise<void> {
      const [lifetime] = (await db.dataSource.query(
        `SELECT extract(epoch FROM t.expires_at - t.created_at)::int AS seconds, r.refresh_token_ttl AS ttl
           FROM refresh_tokens t JOIN grants g ON g.id = t.grant_id JOIN resource_servers r ON r.id = g.resource_id WHERE t.${column} = $1`,
        [value],
      )) as Array<{ seconds: number; ttl: number }>;
      assert.ok(lifetime && Math.abs(lifetime.seconds - lifetime.ttl) <= 1, JSON.stringify(lifetime));
    }

    before(async () => {
      db = await openTestDatabase(kind);
      const database = new Database(db.dataSource);
      refreshTokens = new RefreshTokenRepository(database);
      codes = new AuthorizationCodeRepository(database);
      const notifier = new AuditNotifier();
      events = new AuditLog(database, new AuditEventRepository(database, notifier), notifier, new MetricsService());
      handles = new InteractionHandleRepository(db.dataSource, database);
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

    /** A feature's change without its events, inside `tx`: `columns` of its gate's row. */
    async function changeOnly<Values, T>(tx: Tx, change: AuditedChange<Values, unknown>, columns: string): Promise<T[]> {
      const only: Statement<Values> = new Statement('change_only', sql`${change.audited.change} SELECT ${sqlText(columns)} FROM ${sqlText(change.audited.gate)}` as SqlFragment<Values>);
      return (await runStatement(tx, only, change.values)) as T[];
    }

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
        dpopJkt: null,
        identityProvider: null,
        expiresAt: new Date(),
      });
      const interval = expires === 'live' ? '1 minute' : '-1 second';
      await db.dataSource.query(`UPDATE authorization_codes SET expires_at = now() + $2::interval WHERE code_hash = $1`, [codeHash, interval]);
      return { codeHash, codeChallenge };
    }

    type Rotation = Parameters<RefreshTokenRepository['rotation']>[0];
    const rotation = (tokenHash: string, request: Partial<Rotation> = {}) =>
      refreshTokens.rotation({
        proofJkt: null,
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
      const rows = await changeOnly<typeof change.values, { grant_id: string; scopes: string[] }>(tx, change, 'grant_id, scopes');
      return rows[0] ? { grantId: rows[0].grant_id, scopes: rows[0].scopes } : null;
    }

    /** The event the refresh grant writes with its change. */
    const refreshed = (): AuditEvent => ({ type: 'token.refreshed', clientId: parties.clientId, data: { jti: randomToken() } });

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
        const results = await Promise.all(Array.from({ length: N }, () => events.recordWith(rotation(tokenHash), [refreshed()])));
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
        const { row } = await events.recordWith(rotation(tokenHash), [refreshed()]);
        assert.ok(row);
        await assertResourceRefreshLifetime('parent_hash', tokenHash);
        assert.deepEqual(row, { grantId: parties.grantId, userId: parties.userId, subject: parties.userId, claims: {}, scopes: ['tools:read'], resource: row.resource, accessTokenTtl: row.accessTokenTtl });
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

    const count = async (sql: string, params: unknown[] = []): Promise<number> => ((await db.dataSource.query(sql, params)) as Array<{ n: number }>)[0]!.n;

    /** The product's login completion (InteractionHandleRepository.loginCompletion) as it runs: one statement. Returns the user signed in. */
    type Retry = Parameters<RefreshTokenRepository['retry']>[0];
    /** The retry of a rotation (RefreshTokenRepository.retry) without its event, inside `tx`: the token's retries now. */
    async function retry(tx: Tx, tokenHash: string, request: Partial<Retry> = {}): Promise<number | null> {
      const change = refreshTokens.retry({
        proofJkt: null,
        tokenHash,
        clientId: parties.clientId,
        resource: null,
        scopes: null,
        successorHash: sha256(randomToken()),
        graceSeconds: 30,
        maxRetries: 3,
        ...request,
      });
      const rows = await changeOnly<typeof change.values, { retries: number }>(tx, change, 'retries');
      return rows[0] ? Number(rows[0].retries) : null;
    }

    /** A refresh token rotated `ago` (an interval) ago; its successor's hash. */
    async function rotatedToken(ago = '1 second'): Promise<{ tokenHash: string; successorHash: string }> {
      const tokenHash = await refreshToken('live');
      const successorHash = sha256(randomToken());
      assert.ok(await db.dataSource.transaction((tx) => rotate(tx, tokenHash, { successorHash })));
      await db.dataSource.query(`UPDATE refresh_tokens SET rotated_at = now() - $2::interval WHERE token_hash = $1`, [tokenHash, ago]);
      return { tokenHash, successorHash };
    }

    describe('RefreshTokenRepository.retry', () => {
      it(`of ${N} concurrent retries of a rotated token, exactly the bound succeed, each with its own successor`, async () => {
        const { tokenHash } = await rotatedToken();
        const results = await race((tx) => retry(tx, tokenHash, { maxRetries: 3 }));
        assert.deepEqual(results.filter((result) => result !== null).sort(), [1, 2, 3]);
        assert.equal(await successors(tokenHash), 1 + 3, 'the rotation’s successor and three siblings');
        const [row] = (await db.dataSource.query(`SELECT retries, rotated_at < now() - interval '0.5 second' AS unmoved FROM refresh_tokens WHERE token_hash = $1`, [tokenHash])) as Array<{ retries: number; unmoved: boolean }>;
        assert.deepEqual(row, { retries: 3, unmoved: true }, 'retries counted; the rotation time (the window) left alone');
      });

      it('gives the sibling the resource’s refresh token lifetime and the presented token as parent', async () => {
        const { tokenHash } = await rotatedToken();
        const successorHash = sha256(randomToken());
        assert.equal(await db.dataSource.transaction((tx) => retry(tx, tokenHash, { successorHash })), 1);
        await assertResourceRefreshLifetime('parent_hash', tokenHash);
        const [row] = (await db.dataSource.query(`SELECT parent_hash, grant_id, rotated_at FROM refresh_tokens WHERE token_hash = $1`, [successorHash])) as Array<{ parent_hash: string; grant_id: string; rotated_at: Date | null }>;
        assert.deepEqual(row, { parent_hash: tokenHash, grant_id: parties.grantId, rotated_at: null });
      });

      it('retries nothing for an unrotated token, after the window, once a successor was used, or for a request the grant does not cover', async () => {
        const resource = ((await db.dataSource.query('SELECT resource FROM resource_servers WHERE id = $1', [parties.resourceId])) as Array<{ resource: string }>)[0]!.resource;
        const unrotated = await refreshToken('live');
        assert.equal(await db.dataSource.transaction((tx) => retry(tx, unrotated)), null, 'not rotated');

        const old = await rotatedToken('31 seconds');
        assert.equal(await db.dataSource.transaction((tx) => retry(tx, old.tokenHash)), null, 'past the window');
        assert.equal(await db.dataSource.transaction((tx) => retry(tx, old.tokenHash, { graceSeconds: 60 })), 1, 'within a longer one');

        const spent = await rotatedToken();
        assert.ok(await db.dataSource.transaction((tx) => rotate(tx, spent.successorHash)), 'the successor is used');
        assert.equal(await db.dataSource.transaction((tx) => retry(tx, spent.tokenHash)), null, 'a successor was used');

        const { tokenHash } = await rotatedToken();
        for (const request of [{ clientId: randomToken() }, { resource: `${resource}/other` }, { scopes: ['tools:read', 'tools:execute'] }]) {
          assert.equal(await db.dataSource.transaction((tx) => retry(tx, tokenHash, request)), null, JSON.stringify(request));
        }
        assert.equal(await successors(tokenHash), 1, 'only the rotation’s successor');
        assert.equal(await db.dataSource.transaction((tx) => retry(tx, tokenHash, { resource, scopes: ['tools:read'] })), 1);
      });
    });

    async function completeLogin(tx: Tx, interactionId: string, handleHash: string, create: { subject: string } | null, userId: string = randomUUID()): Promise<string | null> {
      const change = handles.loginCompletion({ interactionId, handleHash, userId, returnHash: sha256(randomToken()), create: create && { subject: create.subject, displayName: null } });
      const rows = await changeOnly<typeof change.values, unknown>(tx, change, 'id');
      return rows.length > 0 ? userId : null;
    }

    describe('InteractionHandleRepository.loginCompletion', () => {
      it(`completes a login for exactly one of ${N} concurrent completions of its handle, creating that one's user only`, async () => {
        const handleHash = sha256(randomToken());
        const id = await insertInteraction(db.dataSource, parties, { externalAuthHash: handleHash });
        const prefix = `${parties.resourceId}:racer-${randomToken(6)}-`;
        let next = 0;
        const results = await race((tx) => completeLogin(tx, id, handleHash, { subject: `${prefix}${next++}` }));
        const winners = results.filter((result) => result !== null);
        assert.equal(winners.length, 1, `${winners.length} completions succeeded`);
        assert.equal(await count(`SELECT count(*)::int AS n FROM user_identities WHERE starts_with(subject, $1)`, [prefix]), 1);
        assert.equal(await count(`SELECT count(*)::int AS n FROM users WHERE id = $1`, [winners[0]]), 1);
        // Completed by the product, waiting for the browser to come back with the ticket; the handle is spent.
        assert.equal(
          await count(`SELECT count(*)::int AS n FROM interactions WHERE id = $1 AND user_id = $2 AND login_return_hash IS NOT NULL AND external_auth_hash IS NULL AND login_completed_at IS NULL`, [id, winners[0]]),
          1,
        );
      });

      it(`creates one user when ${N} interactions sign one new subject in at once; the others change nothing`, async () => {
        const subject = `${parties.resourceId}:newcomer-${randomToken(6)}`;
        const started = await Promise.all(
          Array.from({ length: N }, async () => {
            const handleHash = sha256(randomToken());
            return { handleHash, id: await insertInteraction(db.dataSource, parties, { externalAuthHash: handleHash }) };
          }),
        );
        const usersBefore = await count('SELECT count(*)::int AS n FROM users');
        let next = 0;
        const results = await race((tx) => {
          const { id, handleHash } = started[next++]!;
          return completeLogin(tx, id, handleHash, { subject });
        });
        const winners = results.filter((result) => result !== null);
        assert.equal(winners.length, 1, `${winners.length} completions created the identity`);
        assert.equal(await count('SELECT count(*)::int AS n FROM users'), usersBefore + 1);
        assert.equal(await count(`SELECT count(*)::int AS n FROM user_identities WHERE provider = 'external' AND subject = $1 AND user_id = $2`, [subject, winners[0]]), 1);
        const ids = started.map(({ id }) => id);
        assert.equal(await count(`SELECT count(*)::int AS n FROM interactions WHERE id = ANY($1::text[]) AND login_return_hash IS NOT NULL`, [ids]), 1);
        // Read again, the others find the identity and sign in as its user.
        for (const { id, handleHash } of started) {
          if (await count(`SELECT count(*)::int AS n FROM interactions WHERE id = $1 AND login_return_hash IS NULL`, [id])) {
            assert.equal(await db.dataSource.transaction((tx) => completeLogin(tx, id, handleHash, null, winners[0]!)), winners[0]);
          }
        }
        assert.equal(await count(`SELECT count(*)::int AS n FROM interactions WHERE id = ANY($1::text[]) AND user_id = $2`, [ids, winners[0]]), N);
      });

      it('changes nothing when the identity was created after it was read, or the handle is no longer the one read', async () => {
        const handleHash = sha256(randomToken());
        const id = await insertInteraction(db.dataSource, parties, { externalAuthHash: handleHash });
        const subject = `${parties.resourceId}:meanwhile-${randomToken(6)}`;
        const existing = await insertUser(db.dataSource);
        await db.dataSource.query(`INSERT INTO user_identities (provider, subject, user_id) VALUES ('external', $1, $2)`, [subject, existing]);
        const usersBefore = await count('SELECT count(*)::int AS n FROM users');
        assert.equal(await db.dataSource.transaction((tx) => completeLogin(tx, id, handleHash, { subject })), null);
        assert.equal(await db.dataSource.transaction((tx) => completeLogin(tx, id, sha256(randomToken()), null, existing)), null, 'another handle');
        assert.equal(await count('SELECT count(*)::int AS n FROM users'), usersBefore);
        assert.equal(await count(`SELECT count(*)::int AS n FROM interactions WHERE id = $1 AND user_id IS NULL AND login_return_hash IS NULL AND login_completed_at IS NULL`, [id]), 1);
        assert.equal(await db.dataSource.transaction((tx) => completeLogin(tx, id, handleHash, null, existing)), existing);
        assert.equal(await db.dataSource.transaction((tx) => completeLogin(tx, id, handleHash, null, existing)), null, 'once only');
      });
    });

    /** The end of an approved interaction (AuthorizationCodeRepository.issuance) as it runs: one statement. Returns the code's hash. */
    async function issue(tx: Tx, interactionId: string, guard: CompletionGuard | null): Promise<string | null> {
      const change = codes.issuance({
        interactionId,
        guard,
        consent: { userId: parties.userId, clientId: parties.clientId, resourceId: parties.resourceId, scopes: ['tools:read'] },
        code: {
          codeHash: sha256(randomToken()),
          clientId: parties.clientId,
          userId: parties.userId,
          resourceId: parties.resourceId,
          scopes: ['tools:read'],
          redirectUri: 'http://127.0.0.1:49152/callback',
          codeChallenge: sha256(randomToken()),
          dpopJkt: null,
          identityProvider: null,
          expiresAt: new Date(Date.now() + 60_000),
        },
      });
      const rows = await changeOnly<typeof change.values, { code_hash: string }>(tx, change, 'code_hash');
      return rows[0]?.code_hash ?? null;
    }

    describe('AuthorizationCodeRepository.issuance', () => {
      const consented = async (interactionId: string) => ({
        completed: await count(`SELECT count(*)::int AS n FROM interactions WHERE id = $1 AND completed_at IS NOT NULL`, [interactionId]),
        consents: await count(`SELECT count(*)::int AS n FROM consents WHERE user_id = $1 AND client_id = $2`, [parties.userId, parties.clientId]),
      });

      it(`issues a code for exactly one of ${N} concurrent completions of an interaction`, async () => {
        const consentHandleHash = sha256(randomToken());
        const id = await insertInteraction(db.dataSource, parties, { userId: parties.userId, loginCompleted: true, consentHandleHash });
        const codesBefore = await count('SELECT count(*)::int AS n FROM authorization_codes');
        const results = await race((tx) => issue(tx, id, { consentHandleHash, userId: parties.userId }));
        const winners = results.filter((result) => result !== null);
        assert.equal(winners.length, 1, `${winners.length} completions issued a code`);
        assert.equal(await count('SELECT count(*)::int AS n FROM authorization_codes'), codesBefore + 1);
        assert.deepEqual(await consented(id), { completed: 1, consents: 1 });
      });

      it('changes nothing when the handle or user is no longer the one read, or the interaction has expired', async () => {
        await db.dataSource.query(`DELETE FROM consents WHERE user_id = $1`, [parties.userId]);
        const consentHandleHash = sha256(randomToken());
        const id = await insertInteraction(db.dataSource, parties, { userId: parties.userId, loginCompleted: true, consentHandleHash });
        const expired = await insertInteraction(db.dataSource, parties, { userId: parties.userId, loginCompleted: true, consentHandleHash: sha256(randomToken()), expired: true });
        const codesBefore = await count('SELECT count(*)::int AS n FROM authorization_codes');
        const attempts: Array<[string, CompletionGuard | null]> = [
          [id, { consentHandleHash: sha256(randomToken()), userId: parties.userId }],
          [id, { consentHandleHash, userId: randomUUID() }],
          [expired, null],
        ];
        for (const [interactionId, guard] of attempts) assert.equal(await db.dataSource.transaction((tx) => issue(tx, interactionId, guard)), null);
        assert.equal(await count('SELECT count(*)::int AS n FROM authorization_codes'), codesBefore);
        assert.deepEqual(await consented(id), { completed: 0, consents: 0 });
        assert.ok(await db.dataSource.transaction((tx) => issue(tx, id, { consentHandleHash, userId: parties.userId })));
        assert.deepEqual(await consented(id), { completed: 1, consents: 1 });
      });
    });

    describe('AuthorizationCodeRepository.exchange', () => {
      type Exchange = Parameters<AuthorizationCodeRepository['exchange']>[0];
      const exchange = (code: { codeHash: string; codeChallenge: string }, request: Partial<Exchange> = {}) =>
        codes.exchange({
          proofJkt: null,
          grantJkt: null,
          codeHash: code.codeHash,
          clientId: parties.clientId,
          codeChallenge: code.codeChallenge,
          redirectUri: null,
          resource: null,
          grantId: randomUUID(),
          refreshTokenHash: sha256(randomToken()),
          recordUseOf: null,
          useResolutionSeconds: 3600,
          ...request,
        });
      /** The event the authorization_code grant writes with its change. */
      const issued = (grantId: string): AuditEvent => ({ type: 'token.issued', clientId: parties.clientId, data: { grant_type: 'authorization_code', grant_id: grantId, jti: randomToken() } });
      const stored = async (codeHash: string) =>
        ((await db.dataSource.query(`SELECT consumed_at, grant_id FROM authorization_codes WHERE code_hash = $1`, [codeHash])) as Array<{ consumed_at: Date | null; grant_id: string | null }>)[0];
      const grantsOf = async (codeHash: string): Promise<number> =>
        ((await db.dataSource.query(
          `SELECT count(*)::int AS n FROM grants g WHERE g.id IN (SELECT grant_id FROM authorization_codes WHERE code_hash = $1)`,
          [codeHash],
        )) as Array<{ n: number }>)[0]!.n;

      it(`exchanges a code for exactly one of ${N} concurrent requests: one grant, one refresh token, one event`, async () => {
        const code = await authorizationCode('live');
        const attempts = Array.from({ length: N }, () => ({ grantId: randomUUID(), refreshTokenHash: sha256(randomToken()) }));
        const results = await Promise.all(attempts.map((attempt) => events.recordWith(exchange(code, attempt), [issued(attempt.grantId)])));
        const winners = results.flatMap((result, i) => (result.row ? [{ result, attempt: attempts[i]! }] : []));
        assert.equal(winners.length, 1, `${winners.length} exchanges succeeded`);
        assert.ok(results.every((result) => (result.row === null) === (result.events.length === 0)), 'an event exactly when a row');
        const { result, attempt } = winners[0]!;
        assert.equal((await stored(code.codeHash))?.grant_id, attempt.grantId, 'the code names its grant, for a replay to revoke');
        const [grant] = (await db.dataSource.query(`SELECT user_id, client_id, resource_id, scopes FROM grants WHERE id = $1`, [attempt.grantId])) as Array<Record<string, unknown>>;
        assert.deepEqual(grant, { user_id: parties.userId, client_id: parties.clientId, resource_id: parties.resourceId, scopes: ['tools:read', 'tools:execute'] });
        const tokens = (await db.dataSource.query(`SELECT token_hash, parent_hash FROM refresh_tokens WHERE grant_id = $1`, [attempt.grantId])) as Array<{ token_hash: string; parent_hash: string | null }>;
        assert.deepEqual(tokens, [{ token_hash: attempt.refreshTokenHash, parent_hash: null }]);
        const [event] = result.events;
        assert.equal(event?.subject, parties.userId);
        assert.equal(event?.data.grant_id, attempt.grantId);
        assert.deepEqual(event?.data.scopes, ['tools:read', 'tools:execute']);
        assert.equal(result.row?.userId, parties.userId);
        assert.deepEqual(result.row?.scopes, ['tools:read', 'tools:execute']);
        assert.ok(result.row && result.row.accessTokenTtl > 0 && result.row.resource.startsWith('https://'));
        assert.equal(result.row?.usedAt, null, 'no use recorded when none was asked for');
      });

      it('consumes nothing for another client, another challenge, redirect URI or resource; then exchanges for the right ones', async () => {
        const resource = ((await db.dataSource.query('SELECT resource FROM resource_servers WHERE id = $1', [parties.resourceId])) as Array<{ resource: string }>)[0]!.resource;
        const code = await authorizationCode('live');
        const wrong: Array<Partial<Exchange>> = [
          { clientId: randomToken() },
          { codeChallenge: createHash('sha256').update(randomToken(48)).digest('base64url') },
          { redirectUri: 'http://127.0.0.1:49152/other' },
          { resource: `${resource}/other` },
        ];
        for (const request of wrong) assert.equal((await events.recordWith(exchange(code, request), [issued(randomUUID())])).row, null, JSON.stringify(request));
        assert.deepEqual(await stored(code.codeHash), { consumed_at: null, grant_id: null });
        assert.equal(await grantsOf(code.codeHash), 0);
        const grantId = randomUUID();
        const { row } = await events.recordWith(exchange(code, { grantId, redirectUri: 'http://127.0.0.1:49152/callback', resource }), [issued(grantId)]);
        assert.equal(row?.resource, resource);
        assert.equal(await grantsOf(code.codeHash), 1);
      });

      it('gives the first refresh token the resource’s refresh token lifetime, and stores none when the client gets none', async () => {
        const withToken = await authorizationCode('live');
        const grantId = randomUUID();
        assert.ok((await events.recordWith(exchange(withToken, { grantId }), [issued(grantId)])).row);
        await assertResourceRefreshLifetime('grant_id', grantId);

        const withoutToken = await authorizationCode('live');
        const bare = randomUUID();
        assert.ok((await events.recordWith(exchange(withoutToken, { grantId: bare, refreshTokenHash: null }), [issued(bare)])).row);
        const tokens = (await db.dataSource.query(`SELECT count(*)::int AS n FROM refresh_tokens WHERE grant_id = $1`, [bare])) as Array<{ n: number }>;
        assert.equal(tokens[0]?.n, 0);
      });

      it('records the client’s use when asked and it is stale, and says when', async () => {
        await db.dataSource.query(`UPDATE clients SET last_used_at = NULL WHERE id = $1`, [parties.clientId]);
        const first = await authorizationCode('live');
        const firstGrant = randomUUID();
        const { row } = await events.recordWith(exchange(first, { grantId: firstGrant, recordUseOf: parties.clientId }), [issued(firstGrant)]);
        assert.ok(row?.usedAt instanceof Date && Math.abs(row.usedAt.getTime() - Date.now()) < 60_000, String(row?.usedAt));
        const second = await authorizationCode('live');
        const secondGrant = randomUUID();
        const again = await events.recordWith(exchange(second, { grantId: secondGrant, recordUseOf: parties.clientId }), [issued(secondGrant)]);
        assert.ok(again.row);
        assert.equal(again.row.usedAt, null, 'a use recorded within the resolution is not recorded again');
      });

      it('does not exchange a code twice, leaves an expired code untouched, and exchanges nothing for an unknown code', async () => {
        const code = await authorizationCode('live');
        const grantId = randomUUID();
        assert.ok((await events.recordWith(exchange(code, { grantId }), [issued(grantId)])).row);
        assert.equal((await events.recordWith(exchange(code), [issued(randomUUID())])).row, null);
        assert.equal(await grantsOf(code.codeHash), 1);

        const expired = await authorizationCode('expired');
        assert.equal((await events.recordWith(exchange(expired), [issued(randomUUID())])).row, null);
        assert.deepEqual(await stored(expired.codeHash), { consumed_at: null, grant_id: null });

        assert.equal((await events.recordWith(exchange({ codeHash: sha256(randomToken()), codeChallenge: 'x' }), [issued(randomUUID())])).row, null);
      });
    });
  });
}
