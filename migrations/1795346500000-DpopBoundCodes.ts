import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The `dpop_jkt` authorization request parameter (RFC 9449 §10): the thumbprint of the key the client will prove at
 * the token endpoint, kept with the pending authorization and then with the code, whose exchange needs a proof by
 * that key. Null for the requests that did not name one.
 */
export class DpopBoundCodes1795346500000 implements MigrationInterface {
  name = 'DpopBoundCodes1795346500000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE interactions ADD COLUMN dpop_jkt text`);
    await db.query(`ALTER TABLE authorization_codes ADD COLUMN dpop_jkt text`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE authorization_codes DROP COLUMN IF EXISTS dpop_jkt`);
    await db.query(`ALTER TABLE interactions DROP COLUMN IF EXISTS dpop_jkt`);
  }
}
