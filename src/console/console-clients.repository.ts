import { Injectable } from '@nestjs/common';
import { Database } from '../database/database.module.js';
import { isStorableText } from '../common/validation.js';
import { params, sql, statement } from '../database/sql.js';
import type { ClientMetadata } from '../registration/client-metadata.js';
import type { ClientKind } from '../registration/client.entity.js';

/**
 * The console's activity buckets, by last use: `day` used in the last 24 hours, `month` in the last 30 days, `idle`
 * last used more than 30 days ago, `never` never used. The SQL below is their one definition.
 */
export const CLIENT_ACTIVITIES = ['all', 'day', 'month', 'idle', 'never'] as const;
export type ClientActivity = (typeof CLIENT_ACTIVITIES)[number];

export interface ClientListFilter {
  /** null: every kind. */
  kind: ClientKind | null;
  activity: ClientActivity;
  /** The last client id of the previous page (keyset pagination in client id order); null: the first page. */
  after: string | null;
}

export interface ClientListRow {
  id: string;
  kind: ClientKind;
  name: string | null;
  createdAt: Date;
  lastUsedAt: Date | null;
  liveGrants: number;
}

export interface ClientListPage {
  rows: ClientListRow[];
  /** Clients matching the filter, counted up to CLIENT_COUNT_CAP. */
  total: number;
  /** The `after` of the next page; null on the last. */
  next: string | null;
}

export interface ClientDetails {
  id: string;
  kind: ClientKind;
  metadata: ClientMetadata;
  createdAt: Date;
  /** For a metadata-document client: when the recorded document was last replaced by a fetch. */
  updatedAt: Date;
  lastUsedAt: Date | null;
  metadataExpiresAt: Date | null;
  liveGrants: number;
}

export interface ClientGrantRow {
  id: string;
  userId: string;
  userName: string | null;
  /** The user's first identity, as `provider:login` (or email, or subject when neither is known). */
  identity: string | null;
  resourceName: string;
  resource: string;
  scopes: string[];
  createdAt: Date;
}

export const CLIENT_PAGE_SIZE = 100;
/** The list counts its matches up to here, so that counting stays bounded however many clients exist. */
export const CLIENT_COUNT_CAP = 10_000;
/** The details list at most this many of a client's live grants (the count says how many there are). */
export const CLIENT_GRANTS_SHOWN = 200;

type Timestamp = Date | string;

interface ListRow {
  total: number;
  id: string | null;
  kind: ClientKind;
  name: string | null;
  created_at: Timestamp;
  last_used_at: Timestamp | null;
  live_grants: number;
}

const filter = params<{ kind: ClientKind | null; activity: ClientActivity; after: string; limit: number; countCap: number }>();

/** The filter both halves of the list apply; a rule about last use lives here only. */
const MATCHES = sql`(${filter.kind}::text IS NULL OR c.kind = ${filter.kind}::text)
            AND CASE ${filter.activity}::text
                  WHEN 'day' THEN c.last_used_at >= now() - interval '24 hours'
                  WHEN 'month' THEN c.last_used_at >= now() - interval '30 days'
                  WHEN 'idle' THEN c.last_used_at < now() - interval '30 days'
                  WHEN 'never' THEN c.last_used_at IS NULL
                  ELSE true END`;

/**
 * One page of the filtered clients in id order: the page is read off the primary key from `after` (the empty string
 * on the first page, below every id) and stops at the limit, each with its live grants counted through
 * grants_client; with the count of all matches, capped. One row with a null id when the page is empty, so that the
 * count still comes back.
 */
export const CONSOLE_CLIENTS = statement(
  'console_clients',
  sql`SELECT total.n AS total, p.id, p.kind, p.name, p.created_at, p.last_used_at,
              (SELECT count(*) FROM grants g WHERE g.client_id = p.id AND g.revoked_at IS NULL)::int AS live_grants
         FROM (SELECT count(*)::int AS n FROM (SELECT 1 FROM clients c WHERE ${MATCHES} LIMIT ${filter.countCap}) AS counted) AS total
         LEFT JOIN LATERAL (
           SELECT c.id, c.kind, c.metadata->>'client_name' AS name, c.created_at, c.last_used_at
             FROM clients c
            WHERE c.id > ${filter.after}::text AND ${MATCHES}
            ORDER BY c.id
            LIMIT ${filter.limit}
         ) AS p ON true
        ORDER BY p.id`,
).returning<ListRow>();

const one = params<{ clientId: string; limit: number }>();

export const CONSOLE_CLIENT = statement(
  'console_client',
  sql`SELECT c.id, c.kind, c.metadata, c.created_at, c.updated_at, c.last_used_at, c.metadata_expires_at,
              (SELECT count(*) FROM grants g WHERE g.client_id = c.id AND g.revoked_at IS NULL)::int AS live_grants
         FROM clients c
        WHERE c.id = ${one.clientId}`,
).returning<{
  id: string;
  kind: ClientKind;
  metadata: ClientMetadata;
  created_at: Timestamp;
  updated_at: Timestamp;
  last_used_at: Timestamp | null;
  metadata_expires_at: Timestamp | null;
  live_grants: number;
}>();

/** The client's live grants, newest first, with who holds each and for which resource server. */
export const CONSOLE_CLIENT_GRANTS = statement(
  'console_client_grants',
  sql`SELECT g.id, g.user_id, u.display_name, g.scopes, g.created_at, r.name AS resource_name, r.resource,
              (SELECT i.provider || ':' || coalesce(i.login, i.email, i.subject) FROM user_identities i
                WHERE i.user_id = g.user_id ORDER BY i.created_at, i.provider LIMIT 1) AS identity
         FROM grants g
         JOIN users u ON u.id = g.user_id
         JOIN resource_servers r ON r.id = g.resource_id
        WHERE g.client_id = ${one.clientId} AND g.revoked_at IS NULL
        ORDER BY g.created_at DESC, g.id
        LIMIT ${one.limit}`,
).returning<{
  id: string;
  user_id: string;
  display_name: string | null;
  scopes: string[];
  created_at: Timestamp;
  resource_name: string;
  resource: string;
  identity: string | null;
}>();

/** What the console's clients section reads: the filtered list, and one client with its live grants. */
@Injectable()
export class ConsoleClientsRepository {
  constructor(private readonly database: Database) {}

  async list(query: ClientListFilter): Promise<ClientListPage> {
    const rows = await this.database.run(CONSOLE_CLIENTS, { ...query, after: query.after ?? '', limit: CLIENT_PAGE_SIZE + 1, countCap: CLIENT_COUNT_CAP });
    const clients = rows.flatMap((row): ClientListRow[] =>
      row.id === null
        ? []
        : [{ id: row.id, kind: row.kind, name: row.name, createdAt: new Date(row.created_at), lastUsedAt: dateOrNull(row.last_used_at), liveGrants: row.live_grants }],
    );
    const page = clients.slice(0, CLIENT_PAGE_SIZE);
    return { rows: page, total: rows[0]?.total ?? 0, next: clients.length > CLIENT_PAGE_SIZE ? (page.at(-1)?.id ?? null) : null };
  }

  /** Null for an unknown id (or one no client could have). */
  async client(clientId: string): Promise<ClientDetails | null> {
    if (!isStorableText(clientId)) return null;
    const [row] = await this.database.run(CONSOLE_CLIENT, { clientId });
    if (!row) return null;
    return {
      id: row.id,
      kind: row.kind,
      metadata: row.metadata,
      createdAt: new Date(row.created_at),
      updatedAt: new Date(row.updated_at),
      lastUsedAt: dateOrNull(row.last_used_at),
      metadataExpiresAt: dateOrNull(row.metadata_expires_at),
      liveGrants: row.live_grants,
    };
  }

  async grants(clientId: string): Promise<ClientGrantRow[]> {
    const rows = await this.database.run(CONSOLE_CLIENT_GRANTS, { clientId, limit: CLIENT_GRANTS_SHOWN });
    return rows.map((row) => ({
      id: row.id,
      userId: row.user_id,
      userName: row.display_name,
      identity: row.identity,
      resourceName: row.resource_name,
      resource: row.resource,
      scopes: row.scopes,
      createdAt: new Date(row.created_at),
    }));
  }
}

function dateOrNull(value: Timestamp | null): Date | null {
  return value === null ? null : new Date(value);
}
