import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Tx } from '../database/data-source.js';
import { isStorableText } from '../common/validation.js';
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

  async insert(tx: Tx, client: Pick<ClientEntity, 'id' | 'kind' | 'metadata' | 'secretHash' | 'registrationTokenHash'>): Promise<ClientEntity> {
    await tx.insert(ClientEntity, client);
    return tx.findOneOrFail(ClientEntity, { where: { id: client.id } });
  }

  async updateMetadata(tx: Tx, id: string, metadata: ClientEntity['metadata'], secretHash: string | null): Promise<void> {
    await tx.update(ClientEntity, { id }, { metadata, secretHash, updatedAt: new Date() });
  }

  async delete(tx: Tx, id: string): Promise<boolean> {
    if (!isStorableText(id)) return false;
    const result = await tx.delete(ClientEntity, { id });
    return (result.affected ?? 0) > 0;
  }
}
