import type { MigrationInterface, QueryRunner } from 'typeorm';

/** A short human description per scope of a resource server, shown on the consent and account pages beside the code. */
export class ScopeDescriptions1795345600000 implements MigrationInterface {
  name = 'ScopeDescriptions1795345600000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE resource_servers ADD COLUMN scope_descriptions jsonb NOT NULL DEFAULT '{}'::jsonb`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE resource_servers DROP COLUMN scope_descriptions`);
  }
}
