import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A resource server's previous registration secret stays valid until its expiry after a rotation, so that a
 * deployment can switch to the new one without a window in which neither works. At most one previous secret.
 */
export class RegistrationSecretOverlap1795345800000 implements MigrationInterface {
  name = 'RegistrationSecretOverlap1795345800000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      ALTER TABLE resource_servers
        ADD COLUMN previous_registration_secret_hash text,
        ADD COLUMN previous_registration_secret_expires_at timestamptz,
        ADD CONSTRAINT resource_servers_previous_registration_secret_hash_key UNIQUE (previous_registration_secret_hash),
        ADD CONSTRAINT resource_servers_previous_secret_has_expiry
          CHECK ((previous_registration_secret_hash IS NULL) = (previous_registration_secret_expires_at IS NULL))`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`
      ALTER TABLE resource_servers
        DROP CONSTRAINT resource_servers_previous_secret_has_expiry,
        DROP CONSTRAINT resource_servers_previous_registration_secret_hash_key,
        DROP COLUMN previous_registration_secret_expires_at,
        DROP COLUMN previous_registration_secret_hash`);
  }
}
