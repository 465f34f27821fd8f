import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Tx } from '../database/data-source.js';
import { ConsentEntity } from './consent.entity.js';

export interface GrantedConsent {
  userId: string;
  clientId: string;
  resourceId: string;
  scopes: string[];
}

@Injectable()
export class ConsentRepository {
  constructor(private readonly dataSource: DataSource) {}

  async grantedScopes(userId: string, clientId: string, resourceId: string, tx: Tx = this.dataSource.manager): Promise<string[] | null> {
    const consent = await tx.findOne(ConsentEntity, { where: { userId, clientId, resourceId } });
    return consent?.scopes ?? null;
  }
}

/**
 * The CTE `granted`: once for each row of the CTE `source`, adds `consent.scopes` to what the user already granted
 * this client for this resource. Yields a row for each consent written. Appends to `params`.
 */
export function grantedCte(params: unknown[], source: string, consent: GrantedConsent): string {
  params.push(consent.userId, consent.clientId, consent.resourceId, consent.scopes);
  const n = params.length;
  return `granted AS (
         INSERT INTO consents (user_id, client_id, resource_id, scopes) SELECT $${n - 3}::uuid, $${n - 2}, $${n - 1}::uuid, $${n}::text[] FROM ${source}
         ON CONFLICT (user_id, client_id, resource_id) DO UPDATE
         SET scopes = ARRAY(SELECT DISTINCT unnest(consents.scopes || EXCLUDED.scopes) ORDER BY 1), granted_at = now()
         RETURNING user_id
       )`;
}
