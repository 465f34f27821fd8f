import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Tx } from '../database/data-source.js';
import { isStorableText } from '../common/validation.js';
import { params, runStatement, sql, sqlText, statement, type SqlFragment, type SqlParam } from '../database/sql.js';
import { refreshTokenUsable } from '../database/refresh-token-usability.js';
import type { ClientMetadata } from './client-metadata.js';
import { ClientEntity } from './client.entity.js';

/** The kinds of client Gatehouse creates on a request's say-so, and so caps and expires. */
export type BoundedClientKind = 'dynamic' | 'metadata_document';

/** Distinct from each other and from the migration, audit and key locks. */
const ADMISSION_LOCKS: Record<BoundedClientKind, number> = { dynamic: 7_405_614_301, metadata_document: 7_405_614_302 };

/**
 * `never_used`: a dynamic client never used after registering; `never_issued_tokens`: a metadata-document client
 * whose /authorize requests never led to tokens; `idle`: either kind, not used for long; `superseded`: a dynamic
 * client an identical registration replaced.
 */
export type ExpiryReason = 'never_used' | 'never_issued_tokens' | 'idle' | 'superseded';

/** A client the expiry job or a re-registration deleted. */
export interface ExpiredClient {
  id: string;
  kind: BoundedClientKind;
  reason: ExpiryReason;
  createdAt: Date;
  lastUsedAt: Date | null;
}

interface ExpiredClientRow {
  id: string;
  kind: BoundedClientKind;
  reason: ExpiryReason;
  created_at: Date | string;
  last_used_at: Date | string | null;
}

function toExpiredClient(row: ExpiredClientRow): ExpiredClient {
  return { id: row.id, kind: row.kind, reason: row.reason, createdAt: new Date(row.created_at), lastUsedAt: row.last_used_at === null ? null : new Date(row.last_used_at) };
}

/**
 * What keeps an expired client however idle: a refresh token of the client `c` that can still be used, since its user
 * can still come back through it. Both expiry statements use it.
 */
const HOLDS_LIVE_REFRESH_TOKEN = sql`EXISTS (
              SELECT 1 FROM grants g JOIN refresh_tokens r ON r.grant_id = g.id
               WHERE g.client_id = c.id AND ${refreshTokenUsable('r', 'g')})`;

const use = params<{ id: string; resolutionSeconds: number }>();
export const RECORD_USE = statement(
  'client_record_use',
  sql`UPDATE clients SET last_used_at = now()
        WHERE id = ${use.id} AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => ${use.resolutionSeconds}::double precision))
       RETURNING last_used_at`,
).returning<{ last_used_at: Date | string }>();

const lock = params<{ key: number }>();
export const LOCK_ADMISSIONS = statement('client_lock_admissions', sql`SELECT pg_advisory_xact_lock(${lock.key})`);

const counting = params<{ kind: BoundedClientKind; atMost: number }>();
export const COUNT_KIND = statement(
  'client_count_kind',
  sql`SELECT count(*)::int AS n FROM (SELECT 1 FROM clients WHERE kind = ${counting.kind} LIMIT ${counting.atMost}) AS counted`,
).returning<{ n: number }>();

const superseded = params<{ fingerprint: string; initialAccessTokenId: string | null; registeredBeforeSeconds: number; limit: number }>();
export const DELETE_SUPERSEDED = statement(
  'client_delete_superseded',
  sql`DELETE FROM clients WHERE id IN (
         SELECT c.id FROM clients c
          WHERE c.kind = 'dynamic' AND c.metadata_fingerprint = ${superseded.fingerprint} AND c.initial_access_token_id IS NOT DISTINCT FROM ${superseded.initialAccessTokenId}::uuid
            AND c.last_used_at IS NULL AND c.created_at < now() - make_interval(secs => ${superseded.registeredBeforeSeconds}::double precision)
            AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.client_id = c.id)
          ORDER BY c.created_at
          LIMIT ${superseded.limit}
          FOR UPDATE OF c SKIP LOCKED)
       RETURNING id, kind, created_at, last_used_at, 'superseded' AS reason`,
).returning<ExpiredClientRow>();

const expiry = params<{ unusedSeconds: number; idleSeconds: number | null; limit: number }>();
export const DELETE_EXPIRED_DYNAMIC = statement(
  'client_delete_expired_dynamic',
  sql`WITH doomed AS (
         SELECT c.id, CASE WHEN c.last_used_at IS NULL THEN 'never_used' ELSE 'idle' END AS reason
           FROM clients c
          WHERE c.kind = 'dynamic'
            AND (
              (c.last_used_at IS NULL AND c.created_at < now() - make_interval(secs => ${expiry.unusedSeconds}::double precision))
              OR (${expiry.idleSeconds}::double precision IS NOT NULL AND c.last_used_at < now() - make_interval(secs => ${expiry.idleSeconds}::double precision))
            )
            AND NOT ${HOLDS_LIVE_REFRESH_TOKEN}
          LIMIT ${expiry.limit}
          FOR UPDATE OF c SKIP LOCKED
       )
       DELETE FROM clients USING doomed WHERE clients.id = doomed.id
       RETURNING clients.id, clients.kind, clients.created_at, clients.last_used_at, doomed.reason`,
).returning<ExpiredClientRow>();

export const DELETE_EXPIRED_METADATA_DOCUMENTS = statement(
  'client_delete_expired_metadata_documents',
  sql`WITH doomed AS (
         SELECT c.id, CASE WHEN issued.any THEN 'idle' ELSE 'never_issued_tokens' END AS reason
           FROM clients c
          CROSS JOIN LATERAL (SELECT EXISTS (SELECT 1 FROM grants g WHERE g.client_id = c.id) AS any) AS issued
          WHERE c.kind = 'metadata_document'
            AND (
              (NOT issued.any AND coalesce(c.last_used_at, c.created_at) < now() - make_interval(secs => ${expiry.unusedSeconds}::double precision))
              OR (${expiry.idleSeconds}::double precision IS NOT NULL AND coalesce(c.last_used_at, c.created_at) < now() - make_interval(secs => ${expiry.idleSeconds}::double precision))
            )
            AND NOT ${HOLDS_LIVE_REFRESH_TOKEN}
          LIMIT ${expiry.limit}
          FOR UPDATE OF c SKIP LOCKED
       )
       DELETE FROM clients USING doomed WHERE clients.id = doomed.id
       RETURNING clients.id, clients.kind, clients.created_at, clients.last_used_at, doomed.reason`,
).returning<ExpiredClientRow>();

const document = params<{ id: string; metadata: string; expiresAt: Date }>();
export const UPDATE_METADATA_DOCUMENT = statement(
  'client_update_metadata_document',
  sql`UPDATE clients SET metadata = ${document.metadata}::jsonb, metadata_expires_at = ${document.expiresAt}, updated_at = now()
          WHERE id = ${document.id} AND kind = 'metadata_document' AND metadata_expires_at IS DISTINCT FROM ${document.expiresAt}
          RETURNING id`,
).returning<{ id: string }>();
export const INSERT_METADATA_DOCUMENT = statement(
  'client_insert_metadata_document',
  sql`INSERT INTO clients (id, kind, metadata, metadata_expires_at) VALUES (${document.id}, 'metadata_document', ${document.metadata}::jsonb, ${document.expiresAt})
       ON CONFLICT (id) DO UPDATE SET metadata = EXCLUDED.metadata, metadata_expires_at = EXCLUDED.metadata_expires_at, updated_at = now()
        WHERE clients.kind = 'metadata_document' AND clients.metadata_expires_at IS DISTINCT FROM EXCLUDED.metadata_expires_at
       RETURNING id`,
).returning<{ id: string }>();

@Injectable()
export class ClientRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Ids come from requests (query, body, Basic header, path); one the database cannot hold names no client. */
  async findById(id: string, tx: Tx = this.dataSource.manager): Promise<ClientEntity | null> {
    if (!isStorableText(id)) return null;
    return tx.findOne(ClientEntity, { where: { id } });
  }

  list(tx: Tx = this.dataSource.manager): Promise<ClientEntity[]> {
    return tx.find(ClientEntity, { order: { createdAt: 'ASC' } });
  }

  async insert(
    tx: Tx,
    client: Pick<ClientEntity, 'id' | 'kind' | 'metadata' | 'secretHash' | 'registrationTokenHash'> &
      Partial<Pick<ClientEntity, 'metadataFingerprint' | 'initialAccessTokenId' | 'secretExpiresAt'>> & { kind: 'dynamic' | 'static' },
  ): Promise<ClientEntity> {
    await tx.insert(ClientEntity, client);
    return tx.findOneOrFail(ClientEntity, { where: { id: client.id } });
  }

  async updateMetadata(
    tx: Tx,
    id: string,
    change: Pick<ClientEntity, 'metadata' | 'secretHash' | 'secretExpiresAt' | 'metadataFingerprint'>,
  ): Promise<void> {
    await tx.update(ClientEntity, { id }, { ...change, updatedAt: new Date() });
  }

  /**
   * Records a use of the client unless one was recorded less than `resolutionSeconds` ago, and returns the time
   * recorded (null when nothing was written). Callers skip the call when the row they already read is that fresh;
   * the condition here settles concurrent uses without a second write.
   */
  async recordUse(tx: Tx, id: string, resolutionSeconds: number): Promise<Date | null> {
    const [row] = await runStatement(tx, RECORD_USE, { id, resolutionSeconds });
    return row ? new Date(row.last_used_at) : null;
  }

  /**
   * Serialises the admission of new clients of `kind` (dynamic registrations, first recordings of a metadata
   * document) on every instance until the transaction ends, so that counting the clients and inserting one cannot
   * interleave with another admission (which could otherwise overshoot the cap).
   */
  async lockAdmissions(tx: Tx, kind: BoundedClientKind): Promise<void> {
    await runStatement(tx, LOCK_ADMISSIONS, { key: ADMISSION_LOCKS[kind] });
  }

  /** Clients of `kind` that exist, counted up to `atMost` (enough to compare with the cap without counting on). */
  async countKind(tx: Tx, kind: BoundedClientKind, atMost: number): Promise<number> {
    const [row] = await runStatement(tx, COUNT_KIND, { kind, atMost });
    return row?.n ?? 0;
  }

  /**
   * Deletes earlier registrations that a new identical one replaces: dynamic, same metadata fingerprint, registered
   * with the same initial access token (or both with none), never used, without any grant, and registered before
   * `registeredBefore` seconds ago. Rows another transaction holds (a use being recorded) are left alone.
   */
  async deleteSuperseded(tx: Tx, match: { fingerprint: string; initialAccessTokenId: string | null; registeredBeforeSeconds: number; limit: number }): Promise<ExpiredClient[]> {
    return (await runStatement(tx, DELETE_SUPERSEDED, match)).map(toExpiredClient);
  }

  /**
   * Deletes up to `limit` dynamic clients that have expired: never used and registered more than
   * `unusedSeconds` ago, or (when `idleSeconds` is not null) last used more than `idleSeconds` ago — and never one
   * with a live refresh token, however idle. Static and metadata-document clients are never touched. Rows another
   * transaction holds (a use being recorded, a grant being inserted) are skipped this time. Deleting a client
   * deletes its consents, codes, interactions and grants.
   */
  async deleteExpired(tx: Tx, ttl: { unusedSeconds: number; idleSeconds: number | null }, limit: number): Promise<ExpiredClient[]> {
    return (await runStatement(tx, DELETE_EXPIRED_DYNAMIC, { ...ttl, limit })).map(toExpiredClient);
  }

  /**
   * Deletes up to `limit` metadata-document clients that have expired. Such a row is recorded by the /authorize
   * request that first names its URL (a use), so "unused" here means never issued tokens: without any grant and
   * last used (or recorded) more than `unusedSeconds` ago. One that was issued tokens goes when (with `idleSeconds`
   * not null) its last use is more than `idleSeconds` ago. Never one with a live refresh token, however idle; rows
   * another transaction holds are skipped this time. The URL can come back: its next /authorize fetches and records
   * the document afresh. Deleting the row deletes its consents, codes, interactions and grants.
   */
  async deleteExpiredMetadataDocuments(tx: Tx, ttl: { unusedSeconds: number; idleSeconds: number | null }, limit: number): Promise<ExpiredClient[]> {
    return (await runStatement(tx, DELETE_EXPIRED_METADATA_DOCUMENTS, { ...ttl, limit })).map(toExpiredClient);
  }

  /**
   * Records a fetched client metadata document: inserts the row on first use (`insert`), or replaces the metadata
   * of the existing one. True only if this call changed the row: callers that share one fetch all write the same
   * expiry, so exactly one of them sees true (and records the event), whichever commits first.
   */
  async recordMetadataDocument(tx: Tx, document: { id: string; metadata: ClientMetadata; expiresAt: Date }, mode: 'insert' | 'update'): Promise<boolean> {
    const values = { id: document.id, metadata: JSON.stringify(document.metadata), expiresAt: document.expiresAt };
    const rows = await runStatement(tx, mode === 'update' ? UPDATE_METADATA_DOCUMENT : INSERT_METADATA_DOCUMENT, values);
    return rows.length > 0;
  }

  async delete(tx: Tx, id: string): Promise<boolean> {
    if (!isStorableText(id)) return false;
    const result = await tx.delete(ClientEntity, { id });
    return (result.affected ?? 0) > 0;
  }
}

const useResolution = params<{ useResolutionSeconds: number }>();

/**
 * The CTE `used` of a statement that records a client's use along with its change, as recordUse does: for the
 * client `id` (a parameter of that statement; null records nothing), unless a use was recorded less than
 * `useResolutionSeconds` ago, and only when the CTE `after` yields a row, if named. Yields the time recorded.
 */
export function clientUseCte<Id extends string>(
  id: SqlParam<Id, string | null>,
  after?: string,
): SqlFragment<{ [K in Id]: string | null } & { useResolutionSeconds: number }> {
  // The compiler cannot reduce the template's inferred values for a generic name: they are exactly these.
  return sql`used AS (
         UPDATE clients SET last_used_at = now()
          WHERE id = ${id}${sqlText(after ? ` AND EXISTS (SELECT 1 FROM ${after})` : '')}
            AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => ${useResolution.useResolutionSeconds}::double precision))
         RETURNING last_used_at
       )` as SqlFragment<{ [K in Id]: string | null } & { useResolutionSeconds: number }>;
}
