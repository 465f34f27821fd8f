import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Dynamic registration hygiene: initial access tokens (RFC 7591 §3) for closed deployments; per client, which token
 * registered it and a fingerprint of its metadata (identical re-registrations replace unused earlier ones); and the
 * indexes the cap, the expiry job and the re-registration check use.
 *
 * Deleting a client row deletes its consents, interactions, authorization codes and grants (ON DELETE CASCADE), and
 * through the grants its refresh tokens: the expiry job relies on that and keeps every client with a live refresh
 * token. Audit events reference clients by id only and stay.
 */
export class ClientHygiene1795330800000 implements MigrationInterface {
  name = 'ClientHygiene1795330800000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE initial_access_tokens (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        token_hash text NOT NULL UNIQUE,
        description text,
        max_registrations integer CHECK (max_registrations IS NULL OR max_registrations > 0),
        registrations integer NOT NULL DEFAULT 0 CHECK (registrations >= 0),
        expires_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz,
        CONSTRAINT initial_access_tokens_within_max CHECK (max_registrations IS NULL OR registrations <= max_registrations)
      )`);
    await db.query(`
      ALTER TABLE clients
        ADD COLUMN metadata_fingerprint text,
        ADD COLUMN initial_access_token_id uuid REFERENCES initial_access_tokens(id) ON DELETE SET NULL`);
    // last_used_at existed but was never written: without this, every client registered before this migration would
    // count as never used and expire a day later, however busy. Its last use is taken from what it left behind: the
    // newest grant, refresh token (rotation writes a new one), authorization code or interaction.
    await db.query(`
      UPDATE clients c SET last_used_at = evidence.used_at
        FROM (
          SELECT client_id, max(at) AS used_at FROM (
            SELECT client_id, max(created_at) AS at FROM grants GROUP BY client_id
            UNION ALL SELECT g.client_id, max(r.created_at) FROM refresh_tokens r JOIN grants g ON g.id = r.grant_id GROUP BY g.client_id
            UNION ALL SELECT client_id, max(created_at) FROM authorization_codes GROUP BY client_id
            UNION ALL SELECT client_id, max(created_at) FROM interactions GROUP BY client_id
          ) uses GROUP BY client_id
        ) evidence
       WHERE c.id = evidence.client_id AND c.last_used_at IS NULL`);
    // The expiry job: never-used clients by registration time (last_used_at IS NULL, created_at < …) and idle ones by
    // last use (last_used_at < …). The cap counts the same rows.
    await db.query(`CREATE INDEX clients_dynamic_use ON clients (last_used_at, created_at) WHERE kind = 'dynamic'`);
    // Identical re-registrations: earlier clients with the same metadata.
    await db.query(`CREATE INDEX clients_dynamic_fingerprint ON clients (metadata_fingerprint) WHERE kind = 'dynamic' AND metadata_fingerprint IS NOT NULL`);
    // For ON DELETE SET NULL, should a token row ever be deleted (revocation only marks it).
    await db.query(`CREATE INDEX clients_initial_access_token ON clients (initial_access_token_id) WHERE initial_access_token_id IS NOT NULL`);
  }

  async down(db: QueryRunner): Promise<void> {
    // last_used_at predates this migration; the values written above are kept.
    await db.query(`DROP INDEX IF EXISTS clients_initial_access_token`);
    await db.query(`DROP INDEX IF EXISTS clients_dynamic_fingerprint`);
    await db.query(`DROP INDEX IF EXISTS clients_dynamic_use`);
    await db.query(`ALTER TABLE clients DROP COLUMN IF EXISTS initial_access_token_id, DROP COLUMN IF EXISTS metadata_fingerprint`);
    await db.query(`DROP TABLE IF EXISTS initial_access_tokens`);
  }
}
