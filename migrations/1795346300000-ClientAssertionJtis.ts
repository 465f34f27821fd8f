import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The `jti`s of the client assertions (private_key_jwt) already accepted, kept until each assertion expires, so that
 * a captured assertion cannot be replayed on any instance.
 */
export class ClientAssertionJtis1795346300000 implements MigrationInterface {
  name = 'ClientAssertionJtis1795346300000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE client_assertion_jtis (
        client_id text NOT NULL,
        jti text NOT NULL,
        expires_at timestamptz NOT NULL,
        used_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (client_id, jti)
      )`);
    await db.query(`CREATE INDEX client_assertion_jtis_expiry ON client_assertion_jtis (expires_at)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE IF EXISTS client_assertion_jtis`);
  }
}
