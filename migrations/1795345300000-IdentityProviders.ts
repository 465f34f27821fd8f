import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Upstream OpenID Connect providers, configured at run time through the admin API: people sign in through them as
 * `oidc:<id>` identities. The client secret is kept encrypted with ENCRYPTION_KEY, like the private signing keys.
 */
export class IdentityProviders1795345300000 implements MigrationInterface {
  name = 'IdentityProviders1795345300000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE identity_providers (
        id text PRIMARY KEY,
        display_name text NOT NULL,
        issuer text NOT NULL,
        client_id text NOT NULL,
        client_secret_sealed text NOT NULL,
        scopes text[] NOT NULL DEFAULT '{openid,email,profile}',
        groups_claim text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE identity_providers`);
  }
}
