import type { DataSource } from 'typeorm';
import type { Database } from './database.module.js';
import { params, runCounting, sql, sqlText, statement, type Statement } from './sql.js';

/** A table of ids that may be used once each: `(<scope>, jti)` is its primary key, with `expires_at` and `used_at`. */
export interface SpentIdTable {
  /** Prefix of the statements' names (`<name>_use`, `<name>s_delete_expired`). */
  name: string;
  table: string;
  /** The column that scopes a jti (the client, the key): the same jti under another scope is another id. */
  scope: string;
}

export interface SpentIdStatements {
  use: Statement<{ scope: string; jti: string; expiresAt: Date }, { jti: string }>;
  deleteExpired: Statement<{ before: Date; limit: number }>;
}

/**
 * The statements of a spent-id table. `use` records a jti until it expires. A row that has expired no longer blocks
 * its jti (whatever carried it would itself be refused as expired), so the conflict takes it over; any other
 * conflict returns no row. The primary key makes this atomic across instances.
 */
export function spentIdStatements({ name, table, scope }: SpentIdTable): SpentIdStatements {
  const use = params<{ scope: string; jti: string; expiresAt: Date }>();
  const housekeeping = params<{ before: Date; limit: number }>();
  const [tableName, scopeColumn] = [sqlText(table), sqlText(scope)];
  return {
    use: statement(
      `${name}_use`,
      sql`INSERT INTO ${tableName} (${scopeColumn}, jti, expires_at) VALUES (${use.scope}, ${use.jti}, ${use.expiresAt})
      ON CONFLICT (${scopeColumn}, jti) DO UPDATE SET expires_at = EXCLUDED.expires_at, used_at = now()
      WHERE ${tableName}.expires_at < now()
      RETURNING jti`,
    ).returning<{ jti: string }>(),
    deleteExpired: statement(
      `${name}s_delete_expired`,
      sql`DELETE FROM ${tableName} WHERE (${scopeColumn}, jti) IN
        (SELECT ${scopeColumn}, jti FROM ${tableName} WHERE expires_at < ${housekeeping.before} LIMIT ${housekeeping.limit})`,
    ),
  };
}

/** Ids used once each, shared by every instance through the database (see spentIdStatements). */
export abstract class SpentIdRepository {
  protected constructor(
    private readonly dataSource: DataSource,
    private readonly database: Database,
    private readonly statements: SpentIdStatements,
  ) {}

  /** Spends `jti` under `scope`; false if it was already spent and has not expired. */
  async use(scope: string, jti: string, expiresAt: Date): Promise<boolean> {
    return (await this.database.run(this.statements.use, { scope, jti, expiresAt })).length > 0;
  }

  /** Deletes at most `limit` entries that expired before `before`. */
  deleteExpired(before: Date, limit: number): Promise<number> {
    return runCounting(this.dataSource.manager, this.statements.deleteExpired, { before, limit });
  }
}
