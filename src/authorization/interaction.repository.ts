import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Tx } from '../database/data-source.js';
import { affected } from '../database/housekeeping.js';
import { InteractionEntity } from './interaction.entity.js';

export type NewInteraction = Omit<
  InteractionEntity,
  'createdAt' | 'completedAt' | 'userId' | 'externalAuthHash' | 'externalAuthExpiresAt' | 'loginCompletedAt' | 'consentHandleHash' | 'consentHandleExpiresAt'
>;

@Injectable()
export class InteractionRepository {
  constructor(private readonly dataSource: DataSource) {}

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
      await this.dataSource.manager.query(insert, params);
      return null;
    }
    params.push(recordUse.resolutionSeconds);
    const rows = (await this.dataSource.manager.query(
      `WITH used AS (
         UPDATE clients SET last_used_at = now()
          WHERE id = $3 AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $10::double precision))
         RETURNING last_used_at
       )
       ${insert}
       RETURNING (SELECT last_used_at FROM used) AS used_at`,
      params,
    )) as Array<{ used_at: Date | string | null }>;
    const usedAt = rows[0]?.used_at;
    return usedAt ? new Date(usedAt) : null;
  }

  findById(id: string): Promise<InteractionEntity | null> {
    return this.dataSource.manager.findOne(InteractionEntity, { where: { id } });
  }

  async setUser(id: string, userId: string): Promise<void> {
    await this.dataSource.manager.update(InteractionEntity, { id }, { userId });
  }

  /** Marks the interaction done; false if it was already done or has expired (single use, race-free). */
  async complete(tx: Tx, id: string): Promise<boolean> {
    const result = await tx
      .createQueryBuilder()
      .update(InteractionEntity)
      .set({ completedAt: () => 'now()' })
      .where('id = :id AND completed_at IS NULL AND expires_at > now()', { id })
      .execute();
    return (result.affected ?? 0) === 1;
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
