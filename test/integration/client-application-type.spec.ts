import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { revertLastMigration, runMigrations } from '../../src/database/migration-runner.js';
import { MIGRATIONS } from '../../migrations/index.js';
import { DATABASE_KINDS, openTestDatabase, skipUnless, type TestDatabase } from '../support/database.js';

const MIGRATION = 'ClientTypeAndSecretExpiry1795346000000';

for (const kind of DATABASE_KINDS) {
  describe(`ClientTypeAndSecretExpiry migration, application_type (${kind})`, { skip: skipUnless(kind) }, () => {
    let db: TestDatabase;
    before(async () => {
      db = await openTestDatabase(kind);
    });
    after(async () => {
      await db?.close();
    });

    async function applicationTypes(): Promise<Record<string, unknown>> {
      const rows = (await db.dataSource.query(`SELECT id, metadata->'application_type' AS type FROM clients WHERE id LIKE 'app-type-%'`)) as Array<{ id: string; type: unknown }>;
      return Object.fromEntries(rows.map((row) => [row.id, row.type]));
    }

    it('gives clients recorded before it the type registration infers, keeps a recorded one, and its down() removes it', async () => {
      // Revert newest first down to this migration (later ones, if any, go first and come back below).
      const reverted: string[] = [];
      while (reverted.at(-1) !== MIGRATION) {
        const name = await revertLastMigration(db.dataSource, MIGRATIONS);
        assert.ok(name, `${MIGRATION} was applied`);
        reverted.push(name);
      }
      const clients: Array<[string, Record<string, unknown>]> = [
        ['app-type-web', { redirect_uris: ['https://app.example.com/cb', 'HTTPS://other.example.com/cb'] }],
        ['app-type-loopback', { redirect_uris: ['https://app.example.com/cb', 'http://127.0.0.1/cb'] }],
        ['app-type-scheme', { redirect_uris: ['com.example.app:/cb'] }],
        ['app-type-kept', { redirect_uris: ['https://app.example.com/cb'], application_type: 'native' }],
      ];
      for (const [id, metadata] of clients) {
        await db.dataSource.query(`INSERT INTO clients (id, kind, metadata) VALUES ($1, 'static', $2::jsonb)`, [id, JSON.stringify(metadata)]);
      }
      assert.deepEqual((await runMigrations(db.dataSource, MIGRATIONS)).applied, [...reverted].reverse());
      assert.deepEqual(await applicationTypes(), { 'app-type-web': 'web', 'app-type-loopback': 'native', 'app-type-scheme': 'native', 'app-type-kept': 'native' });

      while ((await revertLastMigration(db.dataSource, MIGRATIONS)) !== MIGRATION);
      assert.deepEqual(await applicationTypes(), { 'app-type-web': null, 'app-type-loopback': null, 'app-type-scheme': null, 'app-type-kept': null });
      await runMigrations(db.dataSource, MIGRATIONS);
    });
  });
}
