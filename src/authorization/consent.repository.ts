import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Tx } from '../database/data-source.js';
import { ConsentEntity } from './consent.entity.js';

@Injectable()
export class ConsentRepository {
  constructor(private readonly dataSource: DataSource) {}

  async grantedScopes(userId: string, clientId: string, resourceId: string, tx: Tx = this.dataSource.manager): Promise<string[] | null> {
    const consent = await tx.findOne(ConsentEntity, { where: { userId, clientId, resourceId } });
    return consent?.scopes ?? null;
  }

  /** Adds scopes to what the user already granted this client for this resource. */
  async grant(tx: Tx, userId: string, clientId: string, resourceId: string, scopes: string[]): Promise<void> {
    await tx.query(
      `INSERT INTO consents (user_id, client_id, resource_id, scopes) VALUES ($1, $2, $3, $4)
       ON CONFLICT (user_id, client_id, resource_id) DO UPDATE
       SET scopes = ARRAY(SELECT DISTINCT unnest(consents.scopes || EXCLUDED.scopes) ORDER BY 1), granted_at = now()`,
      [userId, clientId, resourceId, scopes],
    );
  }
}
