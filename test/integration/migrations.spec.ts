import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import type { DataSource, MigrationInterface, QueryRunner } from 'typeorm';
import { createDataSource } from '../../src/database/data-source.js';
import { ENTITIES } from '../../src/entities.js';
import { pendingMigrations, revertLastMigration, runMigrations } from '../../src/database/migration-runner.js';
import { MIGRATIONS } from '../../migrations/index.js';
import { InitialSchema1795312800000 } from '../../migrations/1795312800000-InitialSchema.js';
import { createTestDatabase, postgresUnavailable } from '../support/postgres.js';
import { DATABASE_KINDS, openTestDatabase, skipUnless, type TestDatabase } from '../support/database.js';

const INITIAL = 'InitialSchema1795312800000';
/** The runner's mechanics are tested on the first migration alone; the build's full list is tested below. */
const BASE: ReadonlyArray<new () => MigrationInterface> = [InitialSchema1795312800000];
const SCHEMA_TABLES = [
  'audit_events',
  'authorization_codes',
  'clients',
  'consents',
  'grants',
  'interactions',
  'refresh_tokens',
  'resource_servers',
  'signing_keys',
  'user_identities',
  'users',
];

/** Two later migrations whose names sort the other way round from their order, as real names often do. */
class CreateWidgets1795400000000 implements MigrationInterface {
  name = 'CreateWidgets1795400000000';
  async up(db: QueryRunner): Promise<void> {
    await db.query('CREATE TABLE test_widgets (id integer PRIMARY KEY)');
  }
  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP TABLE test_widgets');
  }
}
class AddGadgets1795500000000 implements MigrationInterface {
  name = 'AddGadgets1795500000000';
  async up(db: QueryRunner): Promise<void> {
    await db.query('CREATE TABLE test_gadgets (widget_id integer NOT NULL REFERENCES test_widgets(id))');
  }
  async down(db: QueryRunner): Promise<void> {
    await db.query('DROP TABLE test_gadgets');
  }
}
class BrokenMigration1795600000000 implements MigrationInterface {
  name = 'BrokenMigration1795600000000';
  async up(db: QueryRunner): Promise<void> {
    await db.query('CREATE TABLE test_broken (id integer)');
    throw new Error('this migration fails on purpose');
  }
  async down(): Promise<void> {}
}

async function tables(dataSource: DataSource): Promise<string[]> {
  const rows = (await dataSource.query(
    `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1`,
  )) as Array<{ name: string }>;
  return rows.map((row) => row.name);
}

async function recorded(dataSource: DataSource): Promise<string[]> {
  const rows = (await dataSource.query('SELECT name FROM gatehouse_migrations ORDER BY name')) as Array<{ name: string }>;
  return rows.map((row) => row.name);
}

async function revertAll(dataSource: DataSource, migrations: ReadonlyArray<new () => MigrationInterface>): Promise<void> {
  for (let i = 0; i < migrations.length && (await revertLastMigration(dataSource, migrations)) !== null; i++);
}

for (const kind of DATABASE_KINDS) {
  describe(`migration runner (${kind})`, { skip: skipUnless(kind) }, () => {
    let db: TestDatabase;

    before(async () => {
      db = await openTestDatabase(kind, { migrate: false });
    });
    after(async () => {
      await db?.close();
    });

    it('reports every migration pending on a database that has never been migrated', async () => {
      assert.deepEqual(await tables(db.dataSource), []);
      assert.deepEqual(await pendingMigrations(db.dataSource, BASE), [INITIAL]);
    });

    it('applies InitialSchema once; a second run applies nothing', async () => {
      assert.deepEqual(await runMigrations(db.dataSource, BASE), { applied: [INITIAL] });
      assert.deepEqual(await tables(db.dataSource), [...SCHEMA_TABLES, 'gatehouse_migrations'].sort());
      assert.deepEqual(await pendingMigrations(db.dataSource, BASE), []);

      assert.deepEqual(await runMigrations(db.dataSource, BASE), { applied: [] });
      assert.deepEqual(await recorded(db.dataSource), [INITIAL]);
    });

    it('reverts the last migration, dropping its schema, and can apply it again', async () => {
      await runMigrations(db.dataSource, BASE);
      assert.equal(await revertLastMigration(db.dataSource, BASE), INITIAL);
      assert.deepEqual(await tables(db.dataSource), ['gatehouse_migrations']);
      assert.deepEqual(await recorded(db.dataSource), []);
      assert.deepEqual(await pendingMigrations(db.dataSource, BASE), [INITIAL]);
      assert.equal(await revertLastMigration(db.dataSource, BASE), null, 'nothing left to revert');

      assert.deepEqual(await runMigrations(db.dataSource, BASE), { applied: [INITIAL] });
      assert.deepEqual(await tables(db.dataSource), [...SCHEMA_TABLES, 'gatehouse_migrations'].sort());
      // The re-created schema works: a row goes in and comes back.
      const rows = (await db.dataSource.query(`INSERT INTO users (display_name) VALUES ('again') RETURNING display_name`)) as Array<{ display_name: string }>;
      assert.equal(rows[0]?.display_name, 'again');
    });

    it('reports a migration this build knows but the database lacks as pending', async () => {
      await runMigrations(db.dataSource, BASE);
      const newer = [...BASE, CreateWidgets1795400000000, AddGadgets1795500000000];
      assert.deepEqual(await pendingMigrations(db.dataSource, newer), ['CreateWidgets1795400000000', 'AddGadgets1795500000000']);
    });

    it('reverts migrations applied in one run newest first, in build order, not by name', async () => {
      const migrations = [...BASE, CreateWidgets1795400000000, AddGadgets1795500000000];
      await revertAll(db.dataSource, BASE);
      // A fresh install applies all three in one transaction, so they share applied_at.
      assert.deepEqual(await runMigrations(db.dataSource, migrations), { applied: [INITIAL, 'CreateWidgets1795400000000', 'AddGadgets1795500000000'] });
      assert.equal(await revertLastMigration(db.dataSource, migrations), 'AddGadgets1795500000000');
      assert.equal(await revertLastMigration(db.dataSource, migrations), 'CreateWidgets1795400000000');
      assert.equal(await revertLastMigration(db.dataSource, migrations), INITIAL);
      assert.deepEqual(await tables(db.dataSource), ['gatehouse_migrations']);
      await runMigrations(db.dataSource, BASE);
    });

    it('refuses to revert a migration this build does not know', async () => {
      await runMigrations(db.dataSource, [...BASE, CreateWidgets1795400000000]);
      await assert.rejects(revertLastMigration(db.dataSource, BASE), /CreateWidgets1795400000000 is applied but not known to this build/);
      assert.deepEqual(await recorded(db.dataSource), ['CreateWidgets1795400000000', INITIAL]);
      assert.equal(await revertLastMigration(db.dataSource, [...BASE, CreateWidgets1795400000000]), 'CreateWidgets1795400000000');
    });

    it('rolls a failing run back whole: nothing applied, nothing recorded', async () => {
      await revertAll(db.dataSource, BASE);
      await assert.rejects(runMigrations(db.dataSource, [...BASE, BrokenMigration1795600000000]), /fails on purpose/);
      assert.deepEqual(await tables(db.dataSource), ['gatehouse_migrations']);
      assert.deepEqual(await recorded(db.dataSource), []);
      assert.deepEqual(await runMigrations(db.dataSource, BASE), { applied: [INITIAL] }, 'the data source is still usable');
    });

    it('applies the build\'s full list in order, and reverts it completely', async () => {
      await revertAll(db.dataSource, MIGRATIONS);
      const names = MIGRATIONS.map((Migration) => new Migration().name ?? Migration.name);
      assert.equal(names[0], INITIAL);
      assert.deepEqual(await runMigrations(db.dataSource, MIGRATIONS), { applied: names });
      assert.deepEqual(await tables(db.dataSource), [...SCHEMA_TABLES, 'revoked_access_tokens', 'audit_deliveries', 'initial_access_tokens', 'identity_providers', 'console_operators', 'client_credentials_grants', 'client_assertion_jtis', 'dpop_proof_jtis', 'gatehouse_migrations'].sort());
      await revertAll(db.dataSource, MIGRATIONS);
      assert.deepEqual(await tables(db.dataSource), ['gatehouse_migrations']);
      assert.deepEqual(await runMigrations(db.dataSource, BASE), { applied: [INITIAL] });
    });

    it('applies once when two runs start at the same time on one data source', async () => {
      await revertAll(db.dataSource, BASE);
      const reports = await Promise.all([runMigrations(db.dataSource, BASE), runMigrations(db.dataSource, BASE)]);
      assert.deepEqual(reports.map((report) => report.applied.length).sort(), [0, 1]);
      assert.deepEqual(await recorded(db.dataSource), [INITIAL]);
    });
  });
}

describe('migration runner, two instances on one PostgreSQL database', { skip: postgresUnavailable() }, () => {
  for (let round = 1; round <= 3; round++) {
    it(`exactly one instance applies, and neither fails (round ${round})`, async () => {
      const database = await createTestDatabase();
      const instances: DataSource[] = [];
      try {
        for (let i = 0; i < 2; i++) {
          const dataSource = await createDataSource({ kind: 'postgres', url: database.url, preparedStatements: true, connectTimeoutSeconds: 0, queryTimeoutMs: 0, poolIdleSeconds: 10 }, ENTITIES);
          await dataSource.initialize();
          instances.push(dataSource);
        }
        const reports = await Promise.all(instances.map((dataSource) => runMigrations(dataSource, BASE)));
        assert.deepEqual(reports.map((report) => report.applied).sort((a, b) => a.length - b.length), [[], [INITIAL]]);
        for (const dataSource of instances) assert.deepEqual(await pendingMigrations(dataSource, BASE), []);
        assert.deepEqual(await recorded(instances[0]!), [INITIAL]);
      } finally {
        for (const dataSource of instances) await dataSource.destroy();
        await database.drop();
      }
    });
  }
});
