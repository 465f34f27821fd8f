import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Sign-in through several upstream providers (GitHub, OpenID Connect): an identity keeps what its provider said
 * about the person at their last sign-in (name, email and whether the provider verified it, groups), which sign-in
 * policies and identity claims read. `login_method = 'gatehouse'` names Gatehouse's own sign-in page, which is no
 * longer GitHub only.
 */
export class SignInIdentities1795345200000 implements MigrationInterface {
  name = 'SignInIdentities1795345200000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      ALTER TABLE user_identities
        ADD COLUMN name text,
        ADD COLUMN email text,
        ADD COLUMN email_verified boolean NOT NULL DEFAULT false,
        ADD COLUMN groups text[] NOT NULL DEFAULT '{}'`);
    await db.query(`ALTER TABLE resource_servers DROP CONSTRAINT resource_servers_login_method_check`);
    await db.query(`UPDATE resource_servers SET login_method = 'gatehouse' WHERE login_method = 'github'`);
    await db.query(`ALTER TABLE resource_servers ALTER COLUMN login_method SET DEFAULT 'gatehouse'`);
    await db.query(`ALTER TABLE resource_servers ADD CONSTRAINT resource_servers_login_method_check CHECK (login_method IN ('gatehouse', 'external'))`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE resource_servers DROP CONSTRAINT resource_servers_login_method_check`);
    await db.query(`UPDATE resource_servers SET login_method = 'github' WHERE login_method = 'gatehouse'`);
    await db.query(`ALTER TABLE resource_servers ALTER COLUMN login_method SET DEFAULT 'github'`);
    await db.query(`ALTER TABLE resource_servers ADD CONSTRAINT resource_servers_login_method_check CHECK (login_method IN ('github', 'external'))`);
    await db.query(`ALTER TABLE user_identities DROP COLUMN groups, DROP COLUMN email_verified, DROP COLUMN email, DROP COLUMN name`);
  }
}
