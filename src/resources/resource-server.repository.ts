import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { randomUUID } from 'node:crypto';
import type { Tx } from '../database/data-source.js';
import { runStatement, sql, statement } from '../database/sql.js';
import { ResourceServerEntity } from './resource-server.entity.js';

export type NewResourceServer = Omit<ResourceServerEntity, 'id' | 'createdAt' | 'updatedAt'>;

export const ALL_SCOPES = statement('resource_servers_all_scopes', sql`SELECT DISTINCT unnest(scopes) AS scope FROM resource_servers ORDER BY scope`).returning<{
  scope: string;
}>();

@Injectable()
export class ResourceServerRepository {
  constructor(private readonly dataSource: DataSource) {}

  list(tx: Tx = this.dataSource.manager): Promise<ResourceServerEntity[]> {
    return tx.find(ResourceServerEntity, { order: { createdAt: 'ASC' } });
  }

  findById(id: string, tx: Tx = this.dataSource.manager): Promise<ResourceServerEntity | null> {
    return tx.findOne(ResourceServerEntity, { where: { id } });
  }

  findByResource(resource: string, tx: Tx = this.dataSource.manager): Promise<ResourceServerEntity | null> {
    return tx.findOne(ResourceServerEntity, { where: { resource } });
  }

  /** Without a `resource` parameter: the only resource, else the one marked default, else none. */
  async findImplicit(tx: Tx = this.dataSource.manager): Promise<ResourceServerEntity | null> {
    const candidates = await tx.find(ResourceServerEntity, { order: { isDefault: 'DESC' }, take: 2 });
    const [first, second] = candidates;
    if (!first) return null;
    if (!second || first.isDefault) return first;
    return null;
  }

  async allScopes(tx: Tx = this.dataSource.manager): Promise<string[]> {
    const rows = await runStatement(tx, ALL_SCOPES, {});
    return rows.map((row) => row.scope);
  }

  async insert(tx: Tx, values: NewResourceServer): Promise<ResourceServerEntity> {
    const id = randomUUID();
    await tx.insert(ResourceServerEntity, { ...values, id });
    return tx.findOneOrFail(ResourceServerEntity, { where: { id } });
  }

  async update(tx: Tx, id: string, values: Partial<NewResourceServer>): Promise<void> {
    await tx.update(ResourceServerEntity, { id }, { ...values, updatedAt: new Date() });
  }

  async clearDefault(tx: Tx, exceptId?: string): Promise<void> {
    const query = tx.createQueryBuilder().update(ResourceServerEntity).set({ isDefault: false }).where('is_default');
    if (exceptId) query.andWhere('id <> :exceptId', { exceptId });
    await query.execute();
  }

  async delete(tx: Tx, id: string): Promise<boolean> {
    const result = await tx.delete(ResourceServerEntity, { id });
    return (result.affected ?? 0) > 0;
  }

  /**
   * The resource server whose current or previous registration secret has this digest. Whether a previous secret
   * is still valid is decided by the caller (ResourcesService.secretMatches), not here.
   */
  findBySecretHash(hash: string, tx: Tx = this.dataSource.manager): Promise<ResourceServerEntity | null> {
    return tx.findOne(ResourceServerEntity, { where: [{ registrationSecretHash: hash }, { previousRegistrationSecretHash: hash }] });
  }
}
