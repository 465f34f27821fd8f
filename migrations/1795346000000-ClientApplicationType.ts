import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Client metadata now always carries `application_type` (OIDC Registration §2, asked for by the MCP authorization
 * spec). Clients recorded before it get the value registration infers when it is omitted: `native` when any
 * redirect URI is not https (loopback http or a private-use scheme), else `web`. The metadata_fingerprint of
 * earlier dynamic registrations is left as it was: a re-registration after the upgrade does not supersede them,
 * and they expire as unused clients do.
 */
export class ClientApplicationType1795346000000 implements MigrationInterface {
  name = 'ClientApplicationType1795346000000';

  async up(db: QueryRunner): Promise<void> {
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
  }
}
