import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import type { DataSource } from 'typeorm';
import { DATABASE_KINDS, openTestDatabase, skipUnless } from '../support/database.js';

/** What TypeORM's schema builder would run to make the database match the entities. */
async function pendingChanges(dataSource: DataSource): Promise<string[]> {
  const { upQueries } = await dataSource.driver.createSchemaBuilder().log();
  return upQueries.map((query) => query.query.trim());
}

for (const kind of DATABASE_KINDS) {
  describe(`entities and migrations (${kind})`, { skip: skipUnless(kind) }, () => {
    it('agree: on a database every migration built, TypeORM finds nothing to change for the entities', async () => {
      const db = await openTestDatabase(kind);
      try {
        assert.deepEqual(await pendingChanges(db.dataSource), [], 'an entity says something its migrations do not (or the other way round): fix the entity or add a migration');
      } finally {
        await db.close();
      }
    });

    it('would notice a migration and an entity that disagree (a partial index, a foreign key, a default)', async () => {
      const db = await openTestDatabase(kind);
      try {
        await db.dataSource.query('DROP INDEX clients_dynamic_use');
        await db.dataSource.query('ALTER TABLE refresh_tokens DROP CONSTRAINT refresh_tokens_grant_id_fkey');
        await db.dataSource.query('ALTER TABLE grants ALTER COLUMN created_at DROP DEFAULT');
        const pending = (await pendingChanges(db.dataSource)).join('\n');
        assert.match(pending, /CREATE INDEX "clients_dynamic_use"/);
        assert.match(pending, /ADD CONSTRAINT "refresh_tokens_grant_id_fkey"/);
        assert.match(pending, /ALTER TABLE "grants" ALTER COLUMN "created_at" SET DEFAULT now\(\)/);
      } finally {
        await db.close();
      }
    });
  });
}
