import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Tx } from '../database/data-source.js';
import { isStorableText } from '../common/validation.js';
import { affected } from '../database/housekeeping.js';
import { returnedRows } from '../database/returned-rows.js';
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
 * What keeps an expired client however idle: a live refresh token (an unrevoked grant with an unrotated, unexpired
 * refresh token) of the client `c`, since its user can still come back through it. Both expiry statements use it.
 */
const HOLDS_LIVE_REFRESH_TOKEN = `EXISTS (
              SELECT 1 FROM grants g JOIN refresh_tokens r ON r.grant_id = g.id
               WHERE g.client_id = c.id AND g.revoked_at IS NULL AND r.rotated_at IS NULL AND r.expires_at > now())`;

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
      Partial<Pick<ClientEntity, 'metadataFingerprint' | 'initialAccessTokenId'>> & { kind: 'dynamic' | 'static' },
  ): Promise<ClientEntity> {
    await tx.insert(ClientEntity, client);
    return tx.findOneOrFail(ClientEntity, { where: { id: client.id } });
  }

  async updateMetadata(tx: Tx, id: string, metadata: ClientEntity['metadata'], secretHash: string | null, metadataFingerprint: string | null): Promise<void> {
    await tx.update(ClientEntity, { id }, { metadata, secretHash, metadataFingerprint, updatedAt: new Date() });
  }

  /**
   * Records a use of the client unless one was recorded less than `resolutionSeconds` ago, and returns the time
   * recorded (null when nothing was written). Callers skip the call when the row they already read is that fresh;
   * the condition here settles concurrent uses without a second write.
   */
  async recordUse(tx: Tx, id: string, resolutionSeconds: number): Promise<Date | null> {
    const result: unknown = await tx.query(
      `UPDATE clients SET last_used_at = now()
        WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $2::double precision))
       RETURNING last_used_at`,
      [id, resolutionSeconds],
    );
    const [row] = returnedRows<{ last_used_at: Date | string }>(result);
    return row ? new Date(row.last_used_at) : null;
  }

  /**
   * Serialises the admission of new clients of `kind` (dynamic registrations, first recordings of a metadata
   * document) on every instance until the transaction ends, so that counting the clients and inserting one cannot
   * interleave with another admission (which could otherwise overshoot the cap).
   */
  async lockAdmissions(tx: Tx, kind: BoundedClientKind): Promise<void> {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [ADMISSION_LOCKS[kind]]);
  }

  /** Clients of `kind` that exist, counted up to `atMost` (enough to compare with the cap without counting on). */
  async countKind(tx: Tx, kind: BoundedClientKind, atMost: number): Promise<number> {
    const rows = (await tx.query(`SELECT count(*)::int AS n FROM (SELECT 1 FROM clients WHERE kind = $1 LIMIT $2) AS counted`, [kind, atMost])) as Array<{ n: number }>;
    return rows[0]?.n ?? 0;
  }

  /**
   * Deletes earlier registrations that a new identical one replaces: dynamic, same metadata fingerprint, registered
   * with the same initial access token (or both with none), never used, without any grant, and registered before
   * `registeredBefore` seconds ago. Rows another transaction holds (a use being recorded) are left alone.
   */
  async deleteSuperseded(tx: Tx, match: { fingerprint: string; initialAccessTokenId: string | null; registeredBeforeSeconds: number; limit: number }): Promise<ExpiredClient[]> {
    const result: unknown = await tx.query(
      `DELETE FROM clients WHERE id IN (
         SELECT c.id FROM clients c
          WHERE c.kind = 'dynamic' AND c.metadata_fingerprint = $1 AND c.initial_access_token_id IS NOT DISTINCT FROM $2::uuid
            AND c.last_used_at IS NULL AND c.created_at < now() - make_interval(secs => $3::double precision)
            AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.client_id = c.id)
          ORDER BY c.created_at
          LIMIT $4
          FOR UPDATE OF c SKIP LOCKED)
       RETURNING id, kind, created_at, last_used_at, 'superseded' AS reason`,
      [match.fingerprint, match.initialAccessTokenId, match.registeredBeforeSeconds, match.limit],
    );
    return returnedRows<ExpiredClientRow>(result).map(toExpiredClient);
  }

  /**
   * Deletes up to `limit` dynamic clients that have expired: never used and registered more than
   * `unusedSeconds` ago, or (when `idleSeconds` is not null) last used more than `idleSeconds` ago — and never one
   * with a live refresh token, however idle. Static and metadata-document clients are never touched. Rows another
   * transaction holds (a use being recorded, a grant being inserted) are skipped this time. Deleting a client
   * deletes its consents, codes, interactions and grants.
   */
  async deleteExpired(tx: Tx, ttl: { unusedSeconds: number; idleSeconds: number | null }, limit: number): Promise<ExpiredClient[]> {
    const result: unknown = await tx.query(
      `WITH doomed AS (
         SELECT c.id, CASE WHEN c.last_used_at IS NULL THEN 'never_used' ELSE 'idle' END AS reason
           FROM clients c
          WHERE c.kind = 'dynamic'
            AND (
              (c.last_used_at IS NULL AND c.created_at < now() - make_interval(secs => $1::double precision))
              OR ($2::double precision IS NOT NULL AND c.last_used_at < now() - make_interval(secs => $2::double precision))
            )
            AND NOT ${HOLDS_LIVE_REFRESH_TOKEN}
          LIMIT $3
          FOR UPDATE OF c SKIP LOCKED
       )
       DELETE FROM clients USING doomed WHERE clients.id = doomed.id
       RETURNING clients.id, clients.kind, clients.created_at, clients.last_used_at, doomed.reason`,
      [ttl.unusedSeconds, ttl.idleSeconds, limit],
    );
    return returnedRows<ExpiredClientRow>(result).map(toExpiredClient);
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
    const result: unknown = await tx.query(
      `WITH doomed AS (
         SELECT c.id, CASE WHEN issued.any THEN 'idle' ELSE 'never_issued_tokens' END AS reason
           FROM clients c
          CROSS JOIN LATERAL (SELECT EXISTS (SELECT 1 FROM grants g WHERE g.client_id = c.id) AS any) AS issued
          WHERE c.kind = 'metadata_document'
            AND (
              (NOT issued.any AND coalesce(c.last_used_at, c.created_at) < now() - make_interval(secs => $1::double precision))
              OR ($2::double precision IS NOT NULL AND coalesce(c.last_used_at, c.created_at) < now() - make_interval(secs => $2::double precision))
            )
            AND NOT ${HOLDS_LIVE_REFRESH_TOKEN}
          LIMIT $3
          FOR UPDATE OF c SKIP LOCKED
       )
       DELETE FROM clients USING doomed WHERE clients.id = doomed.id
       RETURNING clients.id, clients.kind, clients.created_at, clients.last_used_at, doomed.reason`,
      [ttl.unusedSeconds, ttl.idleSeconds, limit],
    );
    return returnedRows<ExpiredClientRow>(result).map(toExpiredClient);
  }

  /**
   * Records a fetched client metadata document: inserts the row on first use (`insert`), or replaces the metadata
   * of the existing one. True only if this call changed the row: callers that share one fetch all write the same
   * expiry, so exactly one of them sees true (and records the event), whichever commits first.
   */
  async recordMetadataDocument(tx: Tx, document: { id: string; metadata: ClientMetadata; expiresAt: Date }, mode: 'insert' | 'update'): Promise<boolean> {
    const params = [document.id, JSON.stringify(document.metadata), document.expiresAt];
    if (mode === 'update') {
      const result = await tx.query(
        `UPDATE clients SET metadata = $2::jsonb, metadata_expires_at = $3, updated_at = now()
          WHERE id = $1 AND kind = 'metadata_document' AND metadata_expires_at IS DISTINCT FROM $3
          RETURNING id`,
        params,
      );
      return affected(result) > 0;
    }
    const rows = await tx.query(
      `INSERT INTO clients (id, kind, metadata, metadata_expires_at) VALUES ($1, 'metadata_document', $2::jsonb, $3)
       ON CONFLICT (id) DO UPDATE SET metadata = EXCLUDED.metadata, metadata_expires_at = EXCLUDED.metadata_expires_at, updated_at = now()
        WHERE clients.kind = 'metadata_document' AND clients.metadata_expires_at IS DISTINCT FROM EXCLUDED.metadata_expires_at
       RETURNING id`,
      params,
    );
    return Array.isArray(rows) && rows.length > 0;
  }

  async delete(tx: Tx, id: string): Promise<boolean> {
    if (!isStorableText(id)) return false;
    const result = await tx.delete(ClientEntity, { id });
    return (result.affected ?? 0) > 0;
  }
}

/**
 * The CTE `used` of a statement that records a client's use along with its change, as recordUse does: for the
 * client `id` (a parameter reference such as `$3`), unless a use was recorded less than `seconds` (one too) ago, and
 * only when the CTE `after` yields a row, if named. Returns the time recorded.
 */
export function clientUseCte(id: string, seconds: string, after?: string): string {
  return `used AS (
         UPDATE clients SET last_used_at = now()
          WHERE id = ${id}${after ? ` AND EXISTS (SELECT 1 FROM ${after})` : ''}
            AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => ${seconds}::double precision))
         RETURNING last_used_at
       )`;
}
