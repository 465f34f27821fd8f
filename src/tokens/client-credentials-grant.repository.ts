import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { randomUUID } from 'node:crypto';
import type { Tx } from '../database/data-source.js';
import { ClientCredentialsGrantEntity } from './client-credentials-grant.entity.js';

/** The client_credentials_grants table: which client may get tokens without a user for which resource server. */
@Injectable()
export class ClientCredentialsGrantRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * The permission for (client, resource), locked until the end of `tx`: `share` (FOR SHARE) while tokens are issued
   * under it, so that a change or removal waits until they are recorded; `update` (FOR UPDATE) to change it.
   */
  find(tx: Tx, clientId: string, resourceId: string, lock: 'share' | 'update'): Promise<ClientCredentialsGrantEntity | null> {
    return tx
      .createQueryBuilder(ClientCredentialsGrantEntity, 'c')
      .where('c.client_id = :clientId AND c.resource_id = :resourceId', { clientId, resourceId })
      .setLock(lock === 'share' ? 'pessimistic_read' : 'pessimistic_write')
      .getOne();
  }

  /** Whether the client is allowed the grant for any resource server at all. */
  async anyFor(clientId: string): Promise<boolean> {
    return (await this.dataSource.manager.count(ClientCredentialsGrantEntity, { where: { clientId } })) > 0;
  }

  /** A client's permissions, locked (FOR UPDATE) until the end of `tx`. */
  lockForClient(tx: Tx, clientId: string): Promise<ClientCredentialsGrantEntity[]> {
    return tx.createQueryBuilder(ClientCredentialsGrantEntity, 'c').where('c.client_id = :clientId', { clientId }).setLock('pessimistic_write').getMany();
  }

  listForClient(clientId: string, tx: Tx = this.dataSource.manager): Promise<ClientCredentialsGrantEntity[]> {
    return tx.find(ClientCredentialsGrantEntity, { where: { clientId }, order: { createdAt: 'ASC' } });
  }

  async insert(tx: Tx, values: Pick<ClientCredentialsGrantEntity, 'clientId' | 'resourceId' | 'scopes' | 'createdBy'>): Promise<ClientCredentialsGrantEntity> {
    const id = randomUUID();
    await tx.insert(ClientCredentialsGrantEntity, { ...values, id });
    return (await tx.findOne(ClientCredentialsGrantEntity, { where: { id } }))!;
  }

  /**
   * New scopes for an existing permission; `newId`: give it a new id too, which ends every token issued under the
   * old one (introspection finds their grant gone).
   */
  async update(tx: Tx, id: string, scopes: string[], newId: boolean): Promise<ClientCredentialsGrantEntity> {
    const nextId = newId ? randomUUID() : id;
    await tx.update(ClientCredentialsGrantEntity, { id }, { id: nextId, scopes, updatedAt: () => 'now()' });
    return (await tx.findOne(ClientCredentialsGrantEntity, { where: { id: nextId } }))!;
  }

  async delete(tx: Tx, id: string): Promise<void> {
    await tx.delete(ClientCredentialsGrantEntity, { id });
  }
}
