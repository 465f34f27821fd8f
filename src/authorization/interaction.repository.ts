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
