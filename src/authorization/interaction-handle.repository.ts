import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Tx } from '../database/data-source.js';
import { InteractionEntity } from './interaction.entity.js';

/** The single-use handles a product completes server to server: `external_auth_id` (login) and `interaction_id` (consent). */
@Injectable()
export class InteractionHandleRepository {
  constructor(private readonly dataSource: DataSource) {}

  async setExternalAuth(id: string, hash: string, expiresAt: Date): Promise<void> {
    await this.dataSource.manager.update(InteractionEntity, { id }, { externalAuthHash: hash, externalAuthExpiresAt: expiresAt });
  }

  async setConsentHandle(id: string, hash: string, expiresAt: Date): Promise<void> {
    await this.dataSource.manager.update(InteractionEntity, { id }, { consentHandleHash: hash, consentHandleExpiresAt: expiresAt });
  }

  /** The interaction a handle names, locked for the rest of the transaction (so a handle is used at most once). */
  findByExternalAuth(tx: Tx, hash: string): Promise<InteractionEntity | null> {
    return tx.createQueryBuilder(InteractionEntity, 'i').where('i.external_auth_hash = :hash', { hash }).setLock('pessimistic_write').getOne();
  }

  findByConsentHandle(tx: Tx, hash: string): Promise<InteractionEntity | null> {
    return tx.createQueryBuilder(InteractionEntity, 'i').where('i.consent_handle_hash = :hash', { hash }).setLock('pessimistic_write').getOne();
  }

  async completeLogin(tx: Tx, id: string, userId: string): Promise<void> {
    await tx.update(InteractionEntity, { id }, { userId, loginCompletedAt: new Date() });
  }
}
