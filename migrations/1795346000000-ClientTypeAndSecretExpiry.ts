import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Two additions to dynamic client registration.
 *
 * `secret_expires_at`: when a client's secret stops being accepted (DCR_CLIENT_SECRET_DAYS; RFC 7591
 * client_secret_expires_at). Null: never, as for every client recorded before it.
 *
 * Client metadata now always carries `application_type` (OIDC Registration §2, asked for by the MCP authorization
 * spec). Clients recorded before it get the value registration infers when it is omitted: `native` when any
 * redirect URI is not https (loopback http or a private-use scheme), else `web`. The metadata_fingerprint of
 * earlier dynamic registrations is left as it was: a re-registration after the upgrade does not supersede them,
 * and they expire as unused clients do.
 */
export class ClientTypeAndSecretExpiry1795346000000 implements MigrationInterface {
  name = 'ClientTypeAndSecretExpiry1795346000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      ALTER TABLE clients
        ADD COLUMN secret_expires_at timestamptz,
        ADD CONSTRAINT clients_secret_expiry_needs_secret CHECK (secret_expires_at IS NULL OR secret_hash IS NOT NULL)`);
    await db.query(`
      UPDATE clients
         SET metadata = metadata || jsonb_build_object('application_type',
               CASE WHEN EXISTS (
                 SELECT 1 FROM jsonb_array_elements_text(metadata->'redirect_uris') AS uri
                  WHERE lower(uri) NOT LIKE 'https://%')
               THEN 'native' ELSE 'web' END)
       WHERE NOT metadata ? 'application_type'`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`UPDATE clients SET metadata = metadata - 'application_type'`);
    await db.query(`ALTER TABLE clients DROP CONSTRAINT clients_secret_expiry_needs_secret, DROP COLUMN secret_expires_at`);
  }
}
