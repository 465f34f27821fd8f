import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * DPoP (RFC 9449): the `jti`s of the proofs already accepted at the token endpoint (kept until the proof's `iat`
 * window closes, so that a captured proof cannot be replayed on any instance), the key a public client's grant is
 * bound to (its refresh tokens need a proof by that key), and a resource server's demand for DPoP-bound tokens.
 * A table of its own rather than a `kind` column on client_assertion_jtis: the key is the proof's key thumbprint, not
 * a client, and the two expire on different clocks.
 */
export class Dpop1795346400000 implements MigrationInterface {
  name = 'Dpop1795346400000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE dpop_proof_jtis (
        jkt text NOT NULL,
        jti text NOT NULL,
        expires_at timestamptz NOT NULL,
        used_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (jkt, jti)
      )`);
    await db.query(`CREATE INDEX dpop_proof_jtis_expiry ON dpop_proof_jtis (expires_at)`);
    await db.query(`ALTER TABLE grants ADD COLUMN dpop_jkt text`);
    await db.query(`ALTER TABLE resource_servers ADD COLUMN require_dpop boolean NOT NULL DEFAULT false`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE resource_servers DROP COLUMN IF EXISTS require_dpop`);
    await db.query(`ALTER TABLE grants DROP COLUMN IF EXISTS dpop_jkt`);
    await db.query(`DROP TABLE IF EXISTS dpop_proof_jtis`);
  }
}
