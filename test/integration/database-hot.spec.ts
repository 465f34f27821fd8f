import { describe, it, mock } from 'node:test';
import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { QueryFailedError } from 'typeorm';
import { Database } from '../../src/database/database.module.js';
import { params, sql, statement } from '../../src/database/sql.js';
import { referencesVanishedClient } from '../../src/common/exception.filter.js';
import { DATABASE_KINDS, skipUnless, withDatabaseAndParties, type TestDatabase } from '../support/database.js';
import type { Parties } from '../factories/rows.js';
import { DatabaseConnectionLost, isDatabaseUnavailable } from '../../src/common/database-unavailable.js';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver.js';
import type { DatabaseConfig } from '../../src/config/config.js';
import { createDataSource } from '../../src/database/data-source.js';
import { ENTITIES } from '../../src/entities.js';

/** What node-postgres was asked to run while `work` ran: each query's name (undefined: unnamed) and text. */
async function sentToNodePostgres(work: () => Promise<unknown>): Promise<Array<{ name: string | undefined; text: string }>> {
  const spy = mock.method(pg.Client.prototype, 'query');
  try {
    await work();
    return spy.mock.calls.map((call) => {
      const first: unknown = call.arguments[0];
      if (typeof first === 'string') return { name: undefined, text: first };
      const config = first as { name?: string; text: string };
      return { name: config.name, text: config.text };
    });
  } finally {
    spy.mock.restore();
  }
}

const p = params<{ grantId: string; reason: string; userId: string; clientId: string; resourceId: string; scopes: string[] }>();
const STANDING_TEXT = sql`SELECT EXISTS (SELECT 1 FROM grants WHERE id = ${p.grantId} AND revoked_at IS NULL) AS grant_live`;
const STANDING = statement('test_standing', STANDING_TEXT);
const TOUCH = statement('test_touch', sql`UPDATE grants SET scopes = scopes WHERE id = ${p.grantId} RETURNING id`).returning<{ id: string }>();
const REVOKE = statement('test_revoke', sql`UPDATE grants SET revoked_reason = ${p.reason} WHERE id = ${p.grantId}`);
const REASON = statement('test_reason', sql`SELECT revoked_reason FROM grants WHERE id = ${p.grantId}`).returning<{ revoked_reason: string }>();
const ORPHAN = statement(
  'test_orphan',
  sql`INSERT INTO grants (user_id, client_id, resource_id, scopes, subject) VALUES (${p.userId}, ${p.clientId}, ${p.resourceId}, ${p.scopes}, ${p.userId}::uuid::text)`,
);

for (const kind of DATABASE_KINDS) {
  describe(`Database.run (${kind})`, { skip: skipUnless(kind) }, () => {
    let db: TestDatabase;
    let parties: Parties;

    withDatabaseAndParties(kind, (opened, inserted) => {
      db = opened;
      parties = inserted;
    });

    it('returns the rows of a SELECT, and an UPDATE’s RETURNING rows (not TypeORM’s [rows, count]), outside and inside a transaction', async () => {
      const database = new Database(db.dataSource);
      assert.deepEqual(await database.run(STANDING, { grantId: parties.grantId }), [{ grant_live: true }]);
      assert.deepEqual(await database.run(TOUCH, { grantId: parties.grantId }), [{ id: parties.grantId }]);
      assert.deepEqual(await database.run(TOUCH, { grantId: randomUUID() }), []);
      const inside = await database.transaction((tx) => database.run(TOUCH, { grantId: parties.grantId }, tx));
      assert.deepEqual(inside, [{ id: parties.grantId }]);
    });

    it('runs inside the transaction it is given: its write is rolled back with it', async () => {
      const database = new Database(db.dataSource);
      await assert.rejects(
        database.transaction(async (tx) => {
          await database.run(REVOKE, { grantId: parties.grantId, reason: 'rolled back' }, tx);
          const seen = await database.run(REASON, { grantId: parties.grantId }, tx);
          assert.equal(seen[0]?.revoked_reason, 'rolled back', 'the transaction sees its own write');
          throw new Error('undo');
        }),
        /undo/,
      );
      const after = (await db.dataSource.query(`SELECT revoked_reason FROM grants WHERE id = $1`, [parties.grantId])) as Array<{ revoked_reason: string | null }>;
      assert.equal(after[0]?.revoked_reason, null);
    });

    it('refuses a transaction handle used after its transaction ended, as TypeORM does', async () => {
      const database = new Database(db.dataSource);
      const stale = await database.transaction(async (tx) => tx);
      await assert.rejects(database.run(STANDING, { grantId: parties.grantId }, stale), /released/i);
    });

    it('reports a transaction whose connection TypeORM dropped mid-way (as it does on a connection error) as a lost connection', async () => {
      const database = new Database(db.dataSource);
      await assert.rejects(
        database.transaction(async (tx) => {
          await tx.query('SELECT 1');
          await tx.queryRunner!.release();
          await tx.query('SELECT 2');
        }),
        (error: unknown) => error instanceof DatabaseConnectionLost && isDatabaseUnavailable(error),
      );
      // A statement that is wrong is still reported as itself.
      await assert.rejects(database.transaction((tx) => tx.query('SELEC 1')), (error: unknown) => !isDatabaseUnavailable(error));
    });

    it('fails as TypeORM’s queries do: a QueryFailedError whose driver error carries the code and constraint the filter reads', async () => {
      const database = new Database(db.dataSource);
      const orphan = { userId: parties.userId, clientId: 'a-client-that-is-gone', resourceId: parties.resourceId, scopes: ['tools:read'] };
      for (const run of [() => database.run(ORPHAN, orphan), () => database.transaction((tx) => database.run(ORPHAN, orphan, tx))]) {
        const error = await run().then(
          () => assert.fail('the insert should have failed'),
          (failure: unknown) => failure,
        );
        assert.ok(error instanceof QueryFailedError, String(error));
        const driverError = error.driverError as { code?: string; constraint?: string };
        assert.equal(driverError.code, '23503');
        assert.equal(driverError.constraint, 'grants_client_id_fkey');
        assert.equal(referencesVanishedClient(error), true);
        assert.equal(referencesVanishedClient(error.driverError), true, 'the raw driver error too');
      }
      const typeorm = await db.dataSource.query(ORPHAN.text, ORPHAN.values(orphan)).then(
        () => assert.fail('the insert should have failed'),
        (failure: unknown) => failure,
      );
      assert.ok(typeorm instanceof QueryFailedError && referencesVanishedClient(typeorm), 'as the ordinary path fails');
    });

    if (kind === 'pglite') {
      it('takes the ordinary path on PGlite: nothing reaches node-postgres', async () => {
        const database = new Database(db.dataSource);
        const sent = await sentToNodePostgres(() => database.run(STANDING, { grantId: parties.grantId }));
        assert.deepEqual(sent, []);
      });
      return;
    }

    it('sends a named statement to node-postgres, the same name for the same text and another for another text', async () => {
      const database = new Database(db.dataSource);
      const other = statement('test_standing', sql`${STANDING_TEXT}, true AS other`);
      const sent = await sentToNodePostgres(async () => {
        await database.run(STANDING, { grantId: parties.grantId });
        await database.run(STANDING, { grantId: randomUUID() });
        await database.run(other, { grantId: parties.grantId });
        await database.transaction((tx) => database.run(STANDING, { grantId: parties.grantId }, tx));
      });
      const ours = sent.filter((query) => query.text.startsWith(STANDING.text));
      assert.equal(ours.length, 4, JSON.stringify(sent));
      const [first, second, third, fourth] = ours.map((query) => query.name);
      assert.ok(first?.startsWith('test_standing_'), `named after its label: ${first}`);
      assert.equal(second, first);
      assert.equal(fourth, first);
      assert.ok(third?.startsWith('test_standing_') && third !== first, 'another text, another name');
    });

    it('leaves the statement prepared on the connection: PostgreSQL parses and plans it once per connection', async () => {
      const database = new Database(db.dataSource);
      const prepared = await database.transaction(async (tx) => {
        await database.run(STANDING, { grantId: parties.grantId }, tx);
        await database.run(STANDING, { grantId: randomUUID() }, tx);
        return (await tx.query(`SELECT name, statement FROM pg_prepared_statements WHERE statement = $1`, [STANDING.text])) as Array<{ name: string }>;
      });
      assert.equal(prepared.length, 1, JSON.stringify(prepared));
      assert.ok(prepared[0]?.name.startsWith('test_standing_'));
    });

    it('keeps an unused pooled connection open for DATABASE_POOL_IDLE_S, and closes it once that has passed', async () => {
      const openConnectionsAfterIdling = async (poolIdleSeconds: number): Promise<number> => {
        assert.equal(db.config.kind, 'postgres');
        const dataSource = await createDataSource({ ...(db.config as Extract<DatabaseConfig, { kind: 'postgres' }>), poolIdleSeconds }, ENTITIES);
        await dataSource.initialize();
        try {
          await dataSource.query('SELECT 1');
          await new Promise((resolve) => setTimeout(resolve, 1500));
          return ((dataSource.driver as PostgresDriver).master as pg.Pool).totalCount;
        } finally {
          await dataSource.destroy();
        }
      };
      assert.equal(await openConnectionsAfterIdling(1), 0, 'idle for longer than DATABASE_POOL_IDLE_S: closed');
      assert.equal(await openConnectionsAfterIdling(300), 1, 'idle for less: still open, its statements still prepared');
    });

    it('with prepared statements off (DATABASE_PREPARED_STATEMENTS=off), sends unnamed statements and leaves none prepared', async () => {
      const database = new Database(db.dataSource, { preparedStatements: false });
      const unprepared = statement('test_unprepared', sql`${STANDING_TEXT}, 'unprepared' AS mode`);
      let prepared: unknown[] = [];
      const sent = await sentToNodePostgres(async () => {
        assert.deepEqual(await database.run(unprepared, { grantId: parties.grantId }), [{ grant_live: true, mode: 'unprepared' }]);
        prepared = await database.transaction(async (tx) => {
          await database.run(unprepared, { grantId: parties.grantId }, tx);
          return (await tx.query(`SELECT name FROM pg_prepared_statements WHERE statement = $1`, [unprepared.text])) as unknown[];
        });
      });
      const ours = sent.filter((query) => query.text === unprepared.text);
      assert.equal(ours.length, 2, JSON.stringify(sent));
      assert.ok(ours.every((query) => query.name === undefined), JSON.stringify(ours));
      assert.deepEqual(prepared, []);
    });
  });
}
