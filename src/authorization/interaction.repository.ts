import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Database } from '../database/database.module.js';
import type { Tx } from '../database/data-source.js';
import { params, runCounting, sql, sqlText, statement, type SqlFragment } from '../database/sql.js';
import type { RowOf } from '../database/entity-rows.js';
import { auditedStatement, type AuditedChange } from '../audit/audit-event-insert.js';
import { InteractionEntity } from './interaction.entity.js';
import { clientUseCte } from '../registration/client.repository.js';

export type NewInteraction = Omit<
  InteractionEntity,
  'createdAt' | 'completedAt' | 'userId' | 'loginReturnHash' | 'loginCompletedAt' | 'consentHandleHash' | 'consentHandleExpiresAt'
>;

// completedCte's parameters: declared before the statements below, which build on it at module load.
const completion = params<Required<CompletionValues>>();

const insert = params<{
  id: string;
  browserHash: string;
  clientId: string;
  resourceId: string;
  redirectUri: string;
  scopes: string[];
  state: string | null;
  codeChallenge: string;
  dpopJkt: string | null;
  expiresAt: Date;
  externalAuthHash: string | null;
  externalAuthExpiresAt: Date | null;
}>();
const INSERT = sql`INSERT INTO interactions (id, browser_hash, client_id, resource_id, redirect_uri, scopes, state, code_challenge, dpop_jkt, expires_at,
                                           external_auth_hash, external_auth_expires_at)
       VALUES (${insert.id}, ${insert.browserHash}, ${insert.clientId}, ${insert.resourceId}, ${insert.redirectUri}, ${insert.scopes}::text[], ${insert.state},
               ${insert.codeChallenge}, ${insert.dpopJkt}::text, ${insert.expiresAt}, ${insert.externalAuthHash}, ${insert.externalAuthExpiresAt})`;

export const INTERACTION_INSERT = statement('interaction_insert', INSERT);

/** The insert, recording a use of the interaction's client as ClientRepository.recordUse does. */
export const INTERACTION_INSERT_USED = statement(
  'interaction_insert_used',
  sql`WITH ${clientUseCte(insert.clientId)}
       ${INSERT}
       RETURNING (SELECT last_used_at FROM used) AS used_at`,
).returning<{ used_at: Date | string | null }>();

const housekeeping = params<{ before: Date; limit: number }>();
export const DELETE_EXPIRED_INTERACTIONS = statement(
  'interaction_delete_expired',
  sql`DELETE FROM interactions WHERE id IN (SELECT id FROM interactions WHERE expires_at < ${housekeeping.before} LIMIT ${housekeeping.limit})`,
);

/** The denial's only event is all known values. */
const DENIAL = { gate: 'completed', events: [{}], row: (): null => null };
export const INTERACTION_DENIAL = auditedStatement('interaction_denial', sql`WITH ${completedCte(false)}`, DENIAL);
export const INTERACTION_DENIAL_GUARDED = auditedStatement('interaction_denial_guarded', sql`WITH ${completedCte(true)}`, DENIAL);

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
    const values = {
      id: interaction.id,
      browserHash: interaction.browserHash,
      clientId: interaction.clientId,
      resourceId: interaction.resourceId,
      redirectUri: interaction.redirectUri,
      scopes: interaction.scopes,
      state: interaction.state,
      codeChallenge: interaction.codeChallenge,
      dpopJkt: interaction.dpopJkt,
      expiresAt: interaction.expiresAt,
      externalAuthHash: interaction.externalAuthHash,
      externalAuthExpiresAt: interaction.externalAuthExpiresAt,
    };
    if (!recordUse) {
      await this.database.run(INTERACTION_INSERT, values);
      return null;
    }
    const rows = await this.database.run(INTERACTION_INSERT_USED, { ...values, useResolutionSeconds: recordUse.resolutionSeconds });
    const usedAt = rows[0]?.used_at;
    return usedAt ? new Date(usedAt) : null;
  }

  findById(id: string): Promise<InteractionEntity | null> {
    return this.dataSource.manager.findOne(InteractionEntity, { where: { id } });
  }

  async setUser(id: string, userId: string, tx: Tx = this.dataSource.manager): Promise<void> {
    await tx.update(InteractionEntity, { id }, { userId });
  }

  /** The change that ends an interaction without a code (access denied), for AuditLog.recordWith. */
  denial(id: string, guard: CompletionGuard | null): AuditedChange<CompletionValues, null> {
    return guard ? { audited: INTERACTION_DENIAL_GUARDED, values: completionValues(id, guard) } : { audited: INTERACTION_DENIAL, values: completionValues(id, null) };
  }

  /** Housekeeping: interactions are only useful for minutes. Deletes at most `limit` rows. */
  deleteExpired(before: Date, limit: number): Promise<number> {
    return runCounting(this.dataSource.manager, DELETE_EXPIRED_INTERACTIONS, { before, limit });
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

/** The values of completedCte's parameters: the interaction, and the guard's when it is guarded. */
export interface CompletionValues {
  interactionId: string;
  guardHandleHash?: string;
  guardUserId?: string;
}

export function completionValues(id: string, guard: CompletionGuard | null): CompletionValues {
  return guard ? { interactionId: id, guardHandleHash: guard.consentHandleHash, guardUserId: guard.userId } : { interactionId: id };
}

/**
 * The CTE `completed`: marks the interaction done, exactly once (of concurrent completions one gets the row) and
 * only while it is open (not expired) and, when `guarded`, the CompletionGuard still holds. Yields its id, or nothing.
 */
export function completedCte(guarded: boolean): SqlFragment<CompletionValues> {
  const guard = guarded ? sql` AND consent_handle_hash = ${completion.guardHandleHash} AND user_id = ${completion.guardUserId}::uuid` : sqlText('');
  return sql`completed AS (UPDATE interactions SET completed_at = now() WHERE id = ${completion.interactionId} AND completed_at IS NULL AND expires_at > now()${guard} RETURNING id)`;
}

/** An `interactions` row as a raw query returns it. */
export type InteractionRow = RowOf<InteractionEntity>;
