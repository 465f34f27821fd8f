import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { randomUUID } from 'node:crypto';
import type { Tx } from '../database/data-source.js';
import { returnedRows } from '../database/returned-rows.js';
import { InitialAccessTokenEntity } from './initial-access-token.entity.js';

/** A token can register while it is not revoked, not expired, and below its maximum. */
const USABLE = `revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now()) AND (max_registrations IS NULL OR registrations < max_registrations)`;

@Injectable()
export class InitialAccessTokenRepository {
  constructor(private readonly dataSource: DataSource) {}

  async insert(tx: Tx, token: Pick<InitialAccessTokenEntity, 'tokenHash' | 'description' | 'maxRegistrations' | 'expiresAt'>): Promise<InitialAccessTokenEntity> {
    const id = randomUUID();
    await tx.insert(InitialAccessTokenEntity, { ...token, id });
    return tx.findOneOrFail(InitialAccessTokenEntity, { where: { id } });
  }

  list(): Promise<InitialAccessTokenEntity[]> {
    return this.dataSource.manager.find(InitialAccessTokenEntity, { order: { createdAt: 'ASC' } });
  }

  findById(id: string, tx: Tx = this.dataSource.manager): Promise<InitialAccessTokenEntity | null> {
    return tx.findOne(InitialAccessTokenEntity, { where: { id } });
  }

  /** Looks the token up by its hash (never compares secrets): the id of a token that may register now, or null. */
  async findUsable(tokenHash: string): Promise<string | null> {
    const rows = (await this.dataSource.manager.query(`SELECT id FROM initial_access_tokens WHERE token_hash = $1 AND ${USABLE}`, [tokenHash])) as Array<{ id: string }>;
    return rows[0]?.id ?? null;
  }

  /**
   * Uses one registration of the token, atomically: of concurrent registrations with a token that has one use
   * left, exactly one gets its id (the others wait on the row lock, then find it used up). Null: not usable.
   */
  async consume(tx: Tx, tokenHash: string): Promise<string | null> {
    const result: unknown = await tx.query(
      `UPDATE initial_access_tokens SET registrations = registrations + 1 WHERE token_hash = $1 AND ${USABLE} RETURNING id`,
      [tokenHash],
    );
    return returnedRows<{ id: string }>(result)[0]?.id ?? null;
  }

  /** Marks the token revoked; false if it already was (or does not exist). */
  async revoke(tx: Tx, id: string): Promise<boolean> {
    const result: unknown = await tx.query(`UPDATE initial_access_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING id`, [id]);
    return returnedRows(result).length > 0;
  }
}

