import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Refresh reuse grace (REFRESH_REUSE_GRACE_SECONDS): a rotated refresh token presented again by its client soon
 * after its rotation gets another successor, at most a few times. `retries` counts those successors, so that the
 * bound holds under concurrent retries: the row lock of `UPDATE … SET retries = retries + 1 WHERE retries < n`
 * serialises them and each sees the count the previous one left.
 */
export class RefreshRetries1795341600000 implements MigrationInterface {
  name = 'RefreshRetries1795341600000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE refresh_tokens ADD COLUMN retries integer NOT NULL DEFAULT 0`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE refresh_tokens DROP COLUMN IF EXISTS retries`);
  }
}
