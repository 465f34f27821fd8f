import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Individually revoked access tokens (RFC 7009), kept until the token would have expired anyway. */
export class RevokedAccessTokens1795316400000 implements MigrationInterface {
  name = 'RevokedAccessTokens1795316400000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE revoked_access_tokens (
        jti uuid PRIMARY KEY,
        client_id text,
        expires_at timestamptz NOT NULL,
        revoked_at timestamptz NOT NULL DEFAULT now()
      )`);
    await db.query(`CREATE INDEX revoked_access_tokens_expiry ON revoked_access_tokens (expires_at)`);
    await db.query(`CREATE INDEX grants_resource ON grants (resource_id)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX IF EXISTS grants_resource`);
    await db.query(`DROP TABLE IF EXISTS revoked_access_tokens`);
  }
}
