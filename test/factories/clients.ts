import { randomBytes, randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { sha256 } from '../../src/common/crypto.js';

/**
 * Client rows in any state of use, written with plain SQL (so the expiry tests do not depend on the services that
 * normally write them). Times are PostgreSQL intervals before now(), e.g. `'2 days'`.
 */
export interface ClientRowSpec {
  kind?: 'dynamic' | 'static' | 'metadata_document';
  /** How long ago it registered (default: just now). */
  registeredAgo?: string;
  /** How long ago it was last used; null or absent: never used. */
  lastUsedAgo?: string | null;
  fingerprint?: string | null;
  initialAccessTokenId?: string | null;
  name?: string;
}

const METADATA = {
  redirect_uris: ['http://127.0.0.1/callback'],
  token_endpoint_auth_method: 'none',
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
};

function values(spec: ClientRowSpec): unknown[] {
  return [
    spec.kind ?? 'dynamic',
    JSON.stringify({ ...METADATA, client_name: spec.name ?? 'Hygiene test client' }),
    spec.registeredAgo ?? '0 seconds',
    spec.lastUsedAgo ?? null,
    spec.fingerprint ?? null,
    spec.initialAccessTokenId ?? null,
  ];
}

const COLUMNS = `kind, metadata, created_at, updated_at, last_used_at, metadata_fingerprint, initial_access_token_id, metadata_expires_at`;
const EXPRESSIONS = `$2, $3::jsonb, now() - $4::interval, now() - $4::interval, now() - $5::interval, $6, $7::uuid,
  CASE WHEN $2 = 'metadata_document' THEN now() + interval '1 hour' END`;

/** One client row; returns its id (an https URL for a metadata-document client). */
export async function insertClientRow(db: DataSource, spec: ClientRowSpec = {}): Promise<string> {
  const id = spec.kind === 'metadata_document' ? `https://app-${randomBytes(4).toString('hex')}.example.com/client.json` : randomUUID();
  await db.query(`INSERT INTO clients (id, ${COLUMNS}) VALUES ($1, ${EXPRESSIONS})`, [id, ...values(spec)]);
  return id;
}

/** `n` dynamic or static client rows alike, in one statement (for tests that need more than a batch of them). */
export async function insertClientRows(db: DataSource, n: number, spec: ClientRowSpec = {}): Promise<void> {
  await db.query(`INSERT INTO clients (id, ${COLUMNS}) SELECT gen_random_uuid()::text, ${EXPRESSIONS} FROM generate_series(1, $1::int)`, [n, ...values(spec)]);
}

export async function insertUserRow(db: DataSource): Promise<string> {
  const rows = (await db.query(`INSERT INTO users (display_name) VALUES ('Hygiene user') RETURNING id`)) as Array<{ id: string }>;
  return rows[0]!.id;
}

export async function insertResourceRow(db: DataSource): Promise<string> {
  const rows = (await db.query(
    `INSERT INTO resource_servers (name, resource, scopes, default_scopes, registration_secret_hash)
     VALUES ('Hygiene MCP', $1, ARRAY['tools:read'], ARRAY['tools:read'], $2) RETURNING id`,
    [`https://mcp-${randomBytes(6).toString('hex')}.example.com/mcp`, sha256(randomBytes(32).toString('base64url'))],
  )) as Array<{ id: string }>;
  return rows[0]!.id;
}

export interface GrantSpec {
  revoked?: boolean;
  /** Refresh tokens of the grant: when each expires (interval from now, negative for the past) and whether it was rotated. */
  refreshTokens?: Array<{ expiresIn: string; rotated?: boolean }>;
}

/** A grant of `clientId` for a fresh user on `resourceId`, with the given refresh tokens; returns the grant id. */
export async function insertGrantRow(db: DataSource, clientId: string, resourceId: string, spec: GrantSpec = {}): Promise<string> {
  const userId = await insertUserRow(db);
  const rows = (await db.query(
    `INSERT INTO grants (user_id, client_id, resource_id, scopes, subject, revoked_at) VALUES ($1, $2, $3, ARRAY['tools:read'], $1::uuid::text, CASE WHEN $4 THEN now() END) RETURNING id`,
    [userId, clientId, resourceId, spec.revoked ?? false],
  )) as Array<{ id: string }>;
  const grantId = rows[0]!.id;
  for (const token of spec.refreshTokens ?? []) {
    await db.query(
      `INSERT INTO refresh_tokens (token_hash, grant_id, expires_at, rotated_at) VALUES ($1, $2, now() + $3::interval, CASE WHEN $4 THEN now() END)`,
      [sha256(randomBytes(32).toString('base64url')), grantId, token.expiresIn, token.rotated ?? false],
    );
  }
  return grantId;
}

export async function clientIds(db: DataSource): Promise<Set<string>> {
  return new Set(((await db.query('SELECT id FROM clients')) as Array<{ id: string }>).map((row) => row.id));
}

export async function countRows(db: DataSource, sql: string, params: unknown[] = []): Promise<number> {
  const rows = (await db.query(`SELECT count(*)::int AS n FROM (${sql}) AS counted`, params)) as Array<{ n: number }>;
  return rows[0]?.n ?? 0;
}
