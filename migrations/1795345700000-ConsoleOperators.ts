import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Who may use the operator console, and how: `admin` changes things, `viewer` only looks. */
export class ConsoleOperators1795345700000 implements MigrationInterface {
  name = 'ConsoleOperators1795345700000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE console_operators (
        user_id uuid PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
        role text NOT NULL CONSTRAINT console_operators_role_check CHECK (role IN ('admin', 'viewer')),
        granted_at timestamptz NOT NULL DEFAULT now(),
        granted_by text NOT NULL
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE console_operators`);
  }
}
