import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A sign-in policy per resource server (see src/resources/sign-in-policy.ts): which providers, and who may pass. A
 * new resource server admits nobody until a policy is set; the ones that exist now keep admitting everyone, so an
 * upgrade locks nobody out (the server warns about them at every boot).
 */
export class SignInPolicy1795345500000 implements MigrationInterface {
  name = 'SignInPolicy1795345500000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE resource_servers ADD COLUMN sign_in jsonb NOT NULL DEFAULT '{"allow": "everyone", "providers": null}'::jsonb`);
    await db.query(`ALTER TABLE resource_servers ALTER COLUMN sign_in SET DEFAULT '{"allow": {}, "providers": null}'::jsonb`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE resource_servers DROP COLUMN sign_in`);
  }
}
