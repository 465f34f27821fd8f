import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Machine-to-machine access (the client credentials grant): which confidential clients an administrator allowed to
 * get tokens for which resource server without a user, and with which scopes. The row's id is the `grant_id` of every
 * access token issued under it, so removing the row (or the client, or the resource server) ends those tokens.
 */
export class ClientCredentialsGrants1795346200000 implements MigrationInterface {
  name = 'ClientCredentialsGrants1795346200000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE client_credentials_grants (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        client_id text NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
        resource_id uuid NOT NULL REFERENCES resource_servers(id) ON DELETE CASCADE,
        scopes text[] NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        created_by text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT client_credentials_grants_client_id_resource_id_key UNIQUE (client_id, resource_id),
        CONSTRAINT client_credentials_grants_scopes_check CHECK (cardinality(scopes) > 0)
      )`);
    await db.query(`CREATE INDEX client_credentials_grants_resource ON client_credentials_grants (resource_id)`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE client_credentials_grants`);
  }
}
