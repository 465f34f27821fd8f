import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The product's login finishes in the browser that started the interaction: completing it server to server stores
 * the SHA-256 of a single-use return ticket, and only a browser holding the interaction's cookie and that ticket
 * turns the completed login into the interaction's signed-in user (login_completed_at).
 */
export class LoginReturn1795334400000 implements MigrationInterface {
  name = 'LoginReturn1795334400000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE interactions ADD COLUMN login_return_hash text`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE interactions DROP COLUMN login_return_hash`);
  }
}
