import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { randomUUID } from 'node:crypto';
import type { Tx } from '../database/data-source.js';
import { params, runStatement, sql, statement } from '../database/sql.js';
import { InitialAccessTokenEntity } from './initial-access-token.entity.js';

/** A token can register while it is not revoked, not expired, and below its maximum. */
const USABLE = sql`revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now()) AND (max_registrations IS NULL OR registrations < max_registrations)`;

const byHash = params<{ tokenHash: string }>();
export const FIND_USABLE = statement('initial_access_token_find_usable', sql`SELECT id FROM initial_access_tokens WHERE token_hash = ${byHash.tokenHash} AND ${USABLE}`).returning<{
  id: string;
}>();
export const CONSUME = statement(
  'initial_access_token_consume',
  sql`UPDATE initial_access_tokens SET registrations = registrations + 1 WHERE token_hash = ${byHash.tokenHash} AND ${USABLE} RETURNING id`,
).returning<{ id: string }>();

const byId = params<{ id: string }>();
export const REVOKE = statement(
  'initial_access_token_revoke',
  sql`UPDATE initial_access_tokens SET revoked_at = now() WHERE id = ${byId.id} AND revoked_at IS NULL RETURNING id`,
).returning<{ id: string }>();

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
    const [row] = await runStatement(this.dataSource.manager, FIND_USABLE, { tokenHash });
    return row?.id ?? null;
  }

  /**
   * Uses one registration of the token, atomically: of concurrent registrations with a token that has one use
   * left, exactly one gets its id (the others wait on the row lock, then find it used up). Null: not usable.
   */
  async consume(tx: Tx, tokenHash: string): Promise<string | null> {
    const [row] = await runStatement(tx, CONSUME, { tokenHash });
    return row?.id ?? null;
  }

  /** Marks the token revoked; false if it already was (or does not exist). */
  async revoke(tx: Tx, id: string): Promise<boolean> {
    return (await runStatement(tx, REVOKE, { id })).length > 0;
  }
}

