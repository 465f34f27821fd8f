import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Clients identified by a client metadata document URL (draft-ietf-oauth-client-id-metadata-document) share the
 * `clients` table, so interactions, consents, codes and grants keep referencing clients(id). Such a row records the
 * last valid document and until when it may be used; it never holds a secret or a registration access token.
 */
export class ClientMetadataDocuments1795320000000 implements MigrationInterface {
  name = 'ClientMetadataDocuments1795320000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`ALTER TABLE clients DROP CONSTRAINT clients_kind_check`);
    await db.query(`ALTER TABLE clients ADD CONSTRAINT clients_kind_check CHECK (kind IN ('dynamic', 'static', 'metadata_document'))`);
    await db.query(`ALTER TABLE clients ADD COLUMN metadata_expires_at timestamptz`);
    await db.query(`
      ALTER TABLE clients ADD CONSTRAINT clients_metadata_document_shape CHECK (
        kind <> 'metadata_document'
        OR (secret_hash IS NULL AND registration_token_hash IS NULL AND metadata_expires_at IS NOT NULL)
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    // The old schema cannot hold these rows; their interactions, consents, codes and grants go with them (ON DELETE CASCADE).
    await db.query(`DELETE FROM clients WHERE kind = 'metadata_document'`);
    await db.query(`ALTER TABLE clients DROP CONSTRAINT clients_metadata_document_shape`);
    await db.query(`ALTER TABLE clients DROP COLUMN metadata_expires_at`);
    await db.query(`ALTER TABLE clients DROP CONSTRAINT clients_kind_check`);
    await db.query(`ALTER TABLE clients ADD CONSTRAINT clients_kind_check CHECK (kind IN ('dynamic', 'static'))`);
  }
}
