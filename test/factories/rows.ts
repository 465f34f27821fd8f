import { randomBytes, randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { sha256 } from '../../src/common/crypto.js';

/**
 * Prerequisite rows written with plain SQL, so repository tests depend on the schema only, not on the services
 * that normally create these rows. Every secret is random and only its hash is stored, as in production.
 */
export interface Parties {
  userId: string;
  clientId: string;
  resourceId: string;
  grantId: string;
}

async function one<T>(db: DataSource, sql: string, params: unknown[]): Promise<T> {
  const rows = (await db.query(sql, params)) as T[];
  const row = rows[0];
  if (!row) throw new Error(`no row from ${sql}`);
  return row;
}

export async function insertUser(db: DataSource, displayName = 'Test User'): Promise<string> {
  return (await one<{ id: string }>(db, 'INSERT INTO users (display_name) VALUES ($1) RETURNING id', [displayName])).id;
}

export async function insertClient(db: DataSource): Promise<string> {
  const id = randomUUID();
  const metadata = {
    redirect_uris: ['http://127.0.0.1/callback'],
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
  };
  await db.query(`INSERT INTO clients (id, kind, metadata) VALUES ($1, 'dynamic', $2::jsonb)`, [id, JSON.stringify(metadata)]);
  return id;
}

export async function insertResourceServer(db: DataSource, scopes = ['tools:read', 'tools:execute']): Promise<string> {
  const row = await one<{ id: string }>(
    db,
    `INSERT INTO resource_servers (name, resource, scopes, default_scopes, registration_secret_hash)
     VALUES ($1, $2, $3, $4, $5) RETURNING id`,
    ['Test MCP server', `https://mcp-${randomBytes(6).toString('hex')}.example.com/mcp`, scopes, scopes.slice(0, 1), sha256(randomBytes(32).toString('base64url'))],
  );
  return row.id;
}

export async function insertGrant(db: DataSource, parties: Omit<Parties, 'grantId'>, scopes = ['tools:read']): Promise<string> {
  const row = await one<{ id: string }>(
    db,
    'INSERT INTO grants (user_id, client_id, resource_id, scopes, subject) VALUES ($1, $2, $3, $4, $1::uuid::text) RETURNING id',
    [parties.userId, parties.clientId, parties.resourceId, scopes],
  );
  return row.id;
}

/** A user, a client, a resource server and a grant tying them together. */
export async function insertParties(db: DataSource): Promise<Parties> {
  const userId = await insertUser(db);
  const clientId = await insertClient(db);
  const resourceId = await insertResourceServer(db);
  const grantId = await insertGrant(db, { userId, clientId, resourceId });
  return { userId, clientId, resourceId, grantId };
}

/** An open interaction of `parties` (expiring in ten minutes), in whatever state `state` gives it. */
export async function insertInteraction(
  db: DataSource,
  parties: Pick<Parties, 'clientId' | 'resourceId'>,
  state: { externalAuthHash?: string; userId?: string; loginCompleted?: boolean; consentHandleHash?: string; expired?: boolean } = {},
): Promise<string> {
  const id = randomBytes(24).toString('base64url');
  await db.query(
    `INSERT INTO interactions (id, browser_hash, client_id, resource_id, redirect_uri, scopes, code_challenge, expires_at, user_id,
                               external_auth_hash, external_auth_expires_at, login_completed_at, consent_handle_hash, consent_handle_expires_at)
     VALUES ($1, $2, $3, $4, 'http://127.0.0.1:49152/callback', $5, $6, now() + $7::interval, $8,
             $9, now() + interval '10 minutes', CASE WHEN $10 THEN now() END, $11, now() + interval '10 minutes')`,
    [
      id,
      sha256(randomBytes(32).toString('base64url')),
      parties.clientId,
      parties.resourceId,
      ['tools:read'],
      sha256(randomBytes(32).toString('base64url')),
      state.expired ? '-1 second' : '10 minutes',
      state.userId ?? null,
      state.externalAuthHash ?? null,
      state.loginCompleted ?? false,
      state.consentHandleHash ?? null,
    ],
  );
  return id;
}
