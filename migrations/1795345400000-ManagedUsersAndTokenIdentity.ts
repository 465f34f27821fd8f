import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Users an administrator can find and disable, and the person's identity in tokens. A grant keeps the `sub` of its
 * tokens (the product's own subject for a product's user, else the Gatehouse id) and a snapshot of the identity
 * claims its resource server opted into; an authorization code remembers which identity signed in, so that the
 * exchange takes the claims from it.
 */
export class ManagedUsersAndTokenIdentity1795345400000 implements MigrationInterface {
  name = 'ManagedUsersAndTokenIdentity1795345400000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE users ADD COLUMN disabled_at timestamptz`);
    await db.query(`CREATE INDEX user_identities_login_lower ON user_identities (lower(login))`);
    await db.query(`CREATE INDEX user_identities_email_lower ON user_identities (lower(email))`);
    await db.query(`ALTER TABLE resource_servers ADD COLUMN identity_claims text[] NOT NULL DEFAULT '{}'`);
    await db.query(`ALTER TABLE authorization_codes ADD COLUMN identity_provider text`);
    await db.query(`ALTER TABLE grants ADD COLUMN subject text, ADD COLUMN claims jsonb NOT NULL DEFAULT '{}'`);
    // A product's user (an `external` identity `<resource id>:<product subject>`) is known by the product's subject.
    await db.query(`
      UPDATE grants g SET subject = coalesce(
        (SELECT substr(ui.subject, length(g.resource_id::text) + 2) FROM user_identities ui
          WHERE ui.user_id = g.user_id AND ui.provider = 'external' AND starts_with(ui.subject, g.resource_id::text || ':') LIMIT 1),
        g.user_id::text)`);
    await db.query(`ALTER TABLE grants ALTER COLUMN subject SET NOT NULL`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE grants DROP COLUMN claims, DROP COLUMN subject`);
    await db.query(`ALTER TABLE authorization_codes DROP COLUMN identity_provider`);
    await db.query(`ALTER TABLE resource_servers DROP COLUMN identity_claims`);
    await db.query(`DROP INDEX user_identities_email_lower`);
    await db.query(`DROP INDEX user_identities_login_lower`);
    await db.query(`ALTER TABLE users DROP COLUMN disabled_at`);
  }
}
