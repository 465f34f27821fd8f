import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Tx } from '../database/data-source.js';
import { params, runStatement, sql, statement } from '../database/sql.js';
import { SigningKeyEntity } from './signing-key.entity.js';

/** Distinct from the other advisory locks (migrations …212, audit appends …213, client admissions …301/302). */
const KEY_LOCK = 7_405_614_214;

const lock = params<{ key: number }>();
export const LOCK_KEYS = statement('signing_keys_lock', sql`SELECT pg_advisory_xact_lock(${lock.key})`);

@Injectable()
export class SigningKeyRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Serialises key changes across instances for the rest of the transaction. */
  async lock(tx: Tx): Promise<void> {
    await runStatement(tx, LOCK_KEYS, { key: KEY_LOCK });
  }

  findPublishable(retiredSince: Date, tx: Tx = this.dataSource.manager): Promise<SigningKeyEntity[]> {
    return tx
      .createQueryBuilder(SigningKeyEntity, 'k')
      .where(`k.state IN ('next', 'active') OR k.retired_at > :since`, { since: retiredSince })
      .orderBy('k.created_at', 'DESC')
      .getMany();
  }

  findByState(tx: Tx, state: 'next' | 'active'): Promise<SigningKeyEntity | null> {
    return tx.findOne(SigningKeyEntity, { where: { state } });
  }

  async insert(tx: Tx, key: Pick<SigningKeyEntity, 'kid' | 'alg' | 'state' | 'publicJwk' | 'privateKeySealed' | 'activatedAt'>): Promise<void> {
    await tx.insert(SigningKeyEntity, key);
  }

  async setState(tx: Tx, kid: string, state: 'active' | 'retired', at: Date): Promise<void> {
    await tx.update(SigningKeyEntity, { kid }, state === 'active' ? { state, activatedAt: at } : { state, retiredAt: at });
  }

  async deleteRetiredBefore(tx: Tx, before: Date): Promise<void> {
    await tx.createQueryBuilder().delete().from(SigningKeyEntity).where(`state = 'retired' AND retired_at < :before`, { before }).execute();
  }
}
