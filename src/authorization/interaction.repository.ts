import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Database } from '../database/database.module.js';
import { NO_ROW, type StatementChange, type Tx } from '../database/data-source.js';
import { affected } from '../database/housekeeping.js';
import { InteractionEntity } from './interaction.entity.js';
import { clientUseCte } from '../registration/client.repository.js';

export type NewInteraction = Omit<
  InteractionEntity,
  'createdAt' | 'completedAt' | 'userId' | 'externalAuthHash' | 'externalAuthExpiresAt' | 'loginReturnHash' | 'loginCompletedAt' | 'consentHandleHash' | 'consentHandleExpiresAt'
>;

@Injectable()
export class InteractionRepository {
  constructor(
    private readonly dataSource: DataSource,
    private readonly database: Database,
  ) {}

  async insert(interaction: NewInteraction, tx: Tx = this.dataSource.manager): Promise<void> {
    await tx.insert(InteractionEntity, interaction);
  }

  /**
   * Inserts an interaction as a statement of its own (no BEGIN/COMMIT). With `recordUse`, the same statement records
   * a use of the interaction's client unless one was recorded less than `resolutionSeconds` ago (as
   * ClientRepository.recordUse does) and returns the time recorded; null when it recorded none.
   */
  async insertAlone(interaction: NewInteraction, recordUse: { resolutionSeconds: number } | null): Promise<Date | null> {
    const params: unknown[] = [
      interaction.id,
      interaction.browserHash,
      interaction.clientId,
      interaction.resourceId,
      interaction.redirectUri,
      interaction.scopes,
      interaction.state,
      interaction.codeChallenge,
      interaction.expiresAt,
    ];
    const insert = `INSERT INTO interactions (id, browser_hash, client_id, resource_id, redirect_uri, scopes, state, code_challenge, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6::text[], $7, $8, $9)`;
    if (!recordUse) {
      await this.database.hot('interaction_insert', insert, params);
      return null;
    }
    params.push(recordUse.resolutionSeconds);
    const rows = await this.database.hot<{ used_at: Date | string | null }>(
      'interaction_insert_used',
      `WITH ${clientUseCte('$3', '$10')}
       ${insert}
       RETURNING (SELECT last_used_at FROM used) AS used_at`,
      params,
    );
    const usedAt = rows[0]?.used_at;
    return usedAt ? new Date(usedAt) : null;
  }

  findById(id: string): Promise<InteractionEntity | null> {
    return this.dataSource.manager.findOne(InteractionEntity, { where: { id } });
  }

  async setUser(id: string, userId: string): Promise<void> {
    await this.dataSource.manager.update(InteractionEntity, { id }, { userId });
  }

  /** The change that ends an interaction without a code (access denied), for AuditLog.recordWith; gate `completed`. */
  denial(id: string, guard: CompletionGuard | null): StatementChange {
    const params: unknown[] = [];
    return { name: 'interaction_denial', sql: `WITH ${completedCte(params, id, guard)}`, params, gate: 'completed', row: NO_ROW };
  }

  /** Housekeeping: interactions are only useful for minutes. Deletes at most `limit` rows. */
  async deleteExpired(before: Date, limit: number): Promise<number> {
    const result = await this.dataSource.manager.query(
      `DELETE FROM interactions WHERE id IN (SELECT id FROM interactions WHERE expires_at < $1 LIMIT $2)`,
      [before, limit],
    );
    return affected(result);
  }
}

/**
 * What a product's completion read and relied on, checked again where the interaction is completed: the handle it
 * presented is still the interaction's, and so is the user.
 */
export interface CompletionGuard {
  consentHandleHash: string;
  userId: string;
}

/**
 * The CTE `completed`: marks the interaction done, exactly once (of concurrent completions one gets the row) and
 * only while it is open (not expired) and `guard` still holds. Yields its id, or nothing. Appends to `params`.
 */
export function completedCte(params: unknown[], id: string, guard: CompletionGuard | null): string {
  params.push(id);
  let conditions = `id = $${params.length} AND completed_at IS NULL AND expires_at > now()`;
  if (guard) {
    params.push(guard.consentHandleHash, guard.userId);
    conditions += ` AND consent_handle_hash = $${params.length - 1} AND user_id = $${params.length}::uuid`;
  }
  return `completed AS (UPDATE interactions SET completed_at = now() WHERE ${conditions} RETURNING id)`;
}

/** An `interactions` row as a raw query returns it. */
export interface InteractionRow {
  id: string;
  browser_hash: string;
  client_id: string;
  resource_id: string;
  redirect_uri: string;
  scopes: string[];
  state: string | null;
  code_challenge: string;
  user_id: string | null;
  created_at: Date | string;
  expires_at: Date | string;
  completed_at: Date | string | null;
  external_auth_hash: string | null;
  external_auth_expires_at: Date | string | null;
  login_return_hash: string | null;
  login_completed_at: Date | string | null;
  consent_handle_hash: string | null;
  consent_handle_expires_at: Date | string | null;
}

export function interactionFromRow(row: InteractionRow): InteractionEntity {
  const date = (value: Date | string | null): Date | null => (value === null ? null : new Date(value));
  return Object.assign(new InteractionEntity(), {
    id: row.id,
    browserHash: row.browser_hash,
    clientId: row.client_id,
    resourceId: row.resource_id,
    redirectUri: row.redirect_uri,
    scopes: row.scopes,
    state: row.state,
    codeChallenge: row.code_challenge,
    userId: row.user_id,
    createdAt: new Date(row.created_at),
    expiresAt: new Date(row.expires_at),
    completedAt: date(row.completed_at),
    externalAuthHash: row.external_auth_hash,
    externalAuthExpiresAt: date(row.external_auth_expires_at),
    loginReturnHash: row.login_return_hash,
    loginCompletedAt: date(row.login_completed_at),
    consentHandleHash: row.consent_handle_hash,
    consentHandleExpiresAt: date(row.consent_handle_expires_at),
  } satisfies InteractionEntity);
}
