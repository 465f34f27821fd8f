import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Tx } from '../database/data-source.js';
import { ConsentEntity } from './consent.entity.js';
import { params, runCounting, runStatement, sql, sqlText, statement } from '../database/sql.js';

export interface GrantedConsent {
  userId: string;
  clientId: string;
  resourceId: string;
  scopes: string[];
}

const owner = params<{ userId: string | null; clientId: string | null }>();
export const CONSENT_DELETE_FOR = statement(
  'consent_delete_for',
  sql`DELETE FROM consents WHERE (${owner.userId}::uuid IS NULL OR user_id = ${owner.userId}::uuid) AND (${owner.clientId}::text IS NULL OR client_id = ${owner.clientId}::text)`,
);

@Injectable()
export class ConsentRepository {
  constructor(private readonly dataSource: DataSource) {}

  async grantedScopes(userId: string, clientId: string, resourceId: string, tx: Tx = this.dataSource.manager): Promise<string[] | null> {
    const consent = await tx.findOne(ConsentEntity, { where: { userId, clientId, resourceId } });
    return consent?.scopes ?? null;
  }

  /** Forgets what the user allowed the client for the resource: it must ask again. The scopes it had; null if none. */
  async forgetOne(tx: Tx, consent: Omit<GrantedConsent, 'scopes'>): Promise<string[] | null> {
    const [row] = await runStatement(tx, FORGET_CONSENT, consent);
    return row?.scopes ?? null;
  }

  /** Forgets every consent a user gave, or every one given to a client: the next authorization asks again. Returns how many. */
  forget(tx: Tx, of: { userId: string } | { clientId: string }): Promise<number> {
    return runCounting(tx, CONSENT_DELETE_FOR, { userId: 'userId' in of ? of.userId : null, clientId: 'clientId' in of ? of.clientId : null });
  }
}

const forgotten = params<Omit<GrantedConsent, 'scopes'>>();
export const FORGET_CONSENT = statement(
  'consent_forget',
  sql`DELETE FROM consents
       WHERE user_id = ${forgotten.userId}::uuid AND client_id = ${forgotten.clientId} AND resource_id = ${forgotten.resourceId}::uuid
   RETURNING scopes`,
).returning<{ scopes: string[] }>();

const granted = params<{ consentUserId: string; consentClientId: string; consentResourceId: string; consentScopes: string[] }>();

/**
 * The CTE `granted`: once for each row of the CTE `source`, adds the consent's scopes to what the user already
 * granted this client for this resource. Yields a row for each consent written. Its values are GrantedConsent's,
 * under `consent…` names (consentValues).
 */
export function grantedCte(source: string) {
  return sql`granted AS (
         INSERT INTO consents (user_id, client_id, resource_id, scopes)
         SELECT ${granted.consentUserId}::uuid, ${granted.consentClientId}, ${granted.consentResourceId}::uuid, ${granted.consentScopes}::text[] FROM ${sqlText(source)}
         ON CONFLICT (user_id, client_id, resource_id) DO UPDATE
         SET scopes = ARRAY(SELECT DISTINCT unnest(consents.scopes || EXCLUDED.scopes) ORDER BY 1), granted_at = now()
         RETURNING user_id
       )`;
}

/** The values of grantedCte's parameters. */
export function consentValues(consent: GrantedConsent) {
  return { consentUserId: consent.userId, consentClientId: consent.clientId, consentResourceId: consent.resourceId, consentScopes: consent.scopes };
}
