import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Metadata-document client hygiene: such clients are capped (CIMD_MAX_CLIENTS) and expire by their last use
 * (CIMD_UNUSED_CLIENT_HOURS, CIMD_IDLE_CLIENT_DAYS), like dynamic ones. The cap counts these rows and the expiry job
 * selects them by last use (or, never used, by when they were recorded): one partial index serves both. Nothing
 * else changes: the rows are deleted as dynamic ones are, with what hangs off them (ON DELETE CASCADE).
 */
export class MetadataDocumentClientHygiene1795338000000 implements MigrationInterface {
  name = 'MetadataDocumentClientHygiene1795338000000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`CREATE INDEX clients_metadata_document_use ON clients ((coalesce(last_used_at, created_at))) WHERE kind = 'metadata_document'`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP INDEX IF EXISTS clients_metadata_document_use`);
  }
}
