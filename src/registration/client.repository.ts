import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Tx } from '../database/data-source.js';
import { isStorableText } from '../common/validation.js';
import { affected } from '../database/housekeeping.js';
import type { ClientMetadata } from './client-metadata.js';
import { ClientEntity } from './client.entity.js';

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

  async insert(tx: Tx, client: Pick<ClientEntity, 'id' | 'kind' | 'metadata' | 'secretHash' | 'registrationTokenHash'> & { kind: 'dynamic' | 'static' }): Promise<ClientEntity> {
    await tx.insert(ClientEntity, client);
    return tx.findOneOrFail(ClientEntity, { where: { id: client.id } });
  }

  async updateMetadata(tx: Tx, id: string, metadata: ClientEntity['metadata'], secretHash: string | null): Promise<void> {
    await tx.update(ClientEntity, { id }, { metadata, secretHash, updatedAt: new Date() });
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
