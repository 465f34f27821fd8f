import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The core schema. Plain SQL that runs unchanged on PostgreSQL and PGlite (gen_random_uuid() is built in). */
export class InitialSchema1795312800000 implements MigrationInterface {
  name = 'InitialSchema1795312800000';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE resource_servers (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name text NOT NULL,
        resource text NOT NULL UNIQUE,
        scopes text[] NOT NULL,
        default_scopes text[] NOT NULL,
        access_token_ttl integer NOT NULL DEFAULT 3600 CHECK (access_token_ttl > 0),
        refresh_token_ttl integer NOT NULL DEFAULT 2592000 CHECK (refresh_token_ttl > 0),
        logo_uri text,
        policy_uri text,
        tos_uri text,
        is_default boolean NOT NULL DEFAULT false,
        registration_secret_hash text NOT NULL UNIQUE,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    // At most one resource is the default for requests that name none.
    await db.query(`CREATE UNIQUE INDEX resource_servers_one_default ON resource_servers (is_default) WHERE is_default`);

    await db.query(`
      CREATE TABLE clients (
        id text PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('dynamic', 'static')),
        metadata jsonb NOT NULL,
        secret_hash text,
        registration_token_hash text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        last_used_at timestamptz
      )`);

    await db.query(`
      CREATE TABLE users (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        display_name text,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await db.query(`
      CREATE TABLE user_identities (
        provider text NOT NULL,
        subject text NOT NULL,
        user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        login text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (provider, subject)
      )`);
    await db.query(`CREATE INDEX user_identities_user ON user_identities (user_id)`);

    await db.query(`
      CREATE TABLE consents (
        user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        client_id text NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
        resource_id uuid NOT NULL REFERENCES resource_servers(id) ON DELETE CASCADE,
        scopes text[] NOT NULL,
        granted_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (user_id, client_id, resource_id)
      )`);

    await db.query(`
      CREATE TABLE interactions (
        id text PRIMARY KEY,
        browser_hash text NOT NULL,
        client_id text NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
        resource_id uuid NOT NULL REFERENCES resource_servers(id) ON DELETE CASCADE,
        redirect_uri text NOT NULL,
        scopes text[] NOT NULL,
        state text,
        code_challenge text NOT NULL,
        user_id uuid REFERENCES users(id) ON DELETE CASCADE,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        completed_at timestamptz
      )`);
    await db.query(`CREATE INDEX interactions_expiry ON interactions (expires_at)`);

    await db.query(`
      CREATE TABLE grants (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        client_id text NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
        resource_id uuid NOT NULL REFERENCES resource_servers(id) ON DELETE CASCADE,
        scopes text[] NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz,
        revoked_reason text
      )`);
    await db.query(`CREATE INDEX grants_user ON grants (user_id)`);
    await db.query(`CREATE INDEX grants_client ON grants (client_id)`);

    await db.query(`
      CREATE TABLE authorization_codes (
        code_hash text PRIMARY KEY,
        client_id text NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
        user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        resource_id uuid NOT NULL REFERENCES resource_servers(id) ON DELETE CASCADE,
        scopes text[] NOT NULL,
        redirect_uri text NOT NULL,
        code_challenge text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        consumed_at timestamptz,
        grant_id uuid REFERENCES grants(id) ON DELETE SET NULL
      )`);
    await db.query(`CREATE INDEX authorization_codes_expiry ON authorization_codes (expires_at)`);

    await db.query(`
      CREATE TABLE refresh_tokens (
        token_hash text PRIMARY KEY,
        grant_id uuid NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
        parent_hash text,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        rotated_at timestamptz
      )`);
    await db.query(`CREATE INDEX refresh_tokens_grant ON refresh_tokens (grant_id)`);

    await db.query(`
      CREATE TABLE signing_keys (
        kid text PRIMARY KEY,
        alg text NOT NULL,
        state text NOT NULL CHECK (state IN ('next', 'active', 'retired')),
        public_jwk jsonb NOT NULL,
        private_key_sealed text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        activated_at timestamptz,
        retired_at timestamptz
      )`);
    await db.query(`CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (state) WHERE state = 'active'`);
    await db.query(`CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys (state) WHERE state = 'next'`);

    await db.query(`
      CREATE TABLE audit_events (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
        type text NOT NULL,
        occurred_at timestamptz NOT NULL DEFAULT now(),
        client_id text,
        subject text,
        resource text,
        request_id text,
        data jsonb NOT NULL DEFAULT '{}'::jsonb
      )`);
    await db.query(`CREATE INDEX audit_events_type_time ON audit_events (type, occurred_at)`);
  }

  async down(db: QueryRunner): Promise<void> {
    for (const table of [
      'audit_events',
      'signing_keys',
      'refresh_tokens',
      'authorization_codes',
      'grants',
      'interactions',
      'consents',
      'user_identities',
      'users',
      'clients',
      'resource_servers',
    ]) {
      await db.query(`DROP TABLE IF EXISTS ${table}`);
    }
  }
}
