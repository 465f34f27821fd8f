import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Tx } from '../database/data-source.js';
import { IdentityProviderEntity } from './identity-provider.entity.js';

export type NewIdentityProvider = Omit<IdentityProviderEntity, 'createdAt' | 'updatedAt'>;

@Injectable()
export class IdentityProviderRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Ordered by display name: the order of the sign-in page's buttons. */
  list(tx: Tx = this.dataSource.manager): Promise<IdentityProviderEntity[]> {
    return tx.find(IdentityProviderEntity, { order: { displayName: 'ASC', id: 'ASC' } });
  }

  findById(id: string, tx: Tx = this.dataSource.manager): Promise<IdentityProviderEntity | null> {
    return tx.findOne(IdentityProviderEntity, { where: { id } });
  }

  async insert(tx: Tx, values: NewIdentityProvider): Promise<IdentityProviderEntity> {
    await tx.insert(IdentityProviderEntity, values);
    return tx.findOneOrFail(IdentityProviderEntity, { where: { id: values.id } });
  }

  async update(tx: Tx, id: string, values: Partial<Omit<NewIdentityProvider, 'id'>>): Promise<void> {
    await tx.update(IdentityProviderEntity, { id }, { ...values, updatedAt: new Date() });
  }

  async delete(tx: Tx, id: string): Promise<boolean> {
    const result = await tx.delete(IdentityProviderEntity, { id });
    return (result.affected ?? 0) > 0;
  }
}
