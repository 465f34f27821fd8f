import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Bring-your-own login and consent: per resource server, how users sign in (`github` or the product's own
 * `external` login page) and optionally a product-hosted consent page; per interaction, the single-use handles the
 * product completes server to server.
 */
export class ExternalLoginAndConsent1795323600000 implements MigrationInterface {
  name = 'ExternalLoginAndConsent1795323600000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE resource_servers
      ADD COLUMN login_method text NOT NULL DEFAULT 'github' CHECK (login_method IN ('github', 'external')),
      ADD COLUMN login_uri text,
      ADD COLUMN consent_uri text,
      ADD CONSTRAINT resource_servers_external_needs_login_uri CHECK (login_method <> 'external' OR login_uri IS NOT NULL)`);
    await db.query(`ALTER TABLE interactions
      ADD COLUMN external_auth_hash text UNIQUE,
      ADD COLUMN external_auth_expires_at timestamptz,
      ADD COLUMN login_completed_at timestamptz,
      ADD COLUMN consent_handle_hash text UNIQUE,
      ADD COLUMN consent_handle_expires_at timestamptz`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE interactions
      DROP COLUMN IF EXISTS consent_handle_expires_at,
      DROP COLUMN IF EXISTS consent_handle_hash,
      DROP COLUMN IF EXISTS login_completed_at,
      DROP COLUMN IF EXISTS external_auth_expires_at,
      DROP COLUMN IF EXISTS external_auth_hash`);
    await db.query(`ALTER TABLE resource_servers
      DROP CONSTRAINT IF EXISTS resource_servers_external_needs_login_uri,
      DROP COLUMN IF EXISTS consent_uri,
      DROP COLUMN IF EXISTS login_uri,
      DROP COLUMN IF EXISTS login_method`);
  }
}
