import { Logger, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { DataSource, QueryFailedError, QueryRunnerProviderAlreadyReleasedError } from 'typeorm';
import { DatabaseConnectionLost } from '../common/database-unavailable.js';
import pg from 'pg';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import type { EntityClasses, Tx } from './data-source.js';
import { connectAtBoot } from './connect.js';
import { returnedRows } from './returned-rows.js';
import type { Statement } from './sql.js';
import { PgliteConnection, PglitePool, type QueryConfig } from './pglite-pool.js';

/** What `run` sends its statements through: a node-postgres pool or client, or the PGlite pool or its session. */
interface DirectQueryable {
  query(config: QueryConfig): Promise<{ rows: unknown[] }>;
}

export interface DatabaseOptions {
  /**
   * Hot statements as named prepared statements (PostgreSQL parses and plans each once per connection). Off for a
   * pooler that does not keep them per client, such as PgBouncer in transaction mode: then they go unnamed.
   */
  preparedStatements: boolean;
}

interface TransactionHooks {
  beforeCommit: Array<() => Promise<void>>;
  afterCommit: Array<() => void>;
  afterEnd: Array<() => void>;
}

/** Runs work in one transaction; repositories receive the handle. */
export class Database implements OnApplicationShutdown {
  private readonly logger = new Logger('Database');
  private readonly hooks = new WeakMap<Tx, TransactionHooks>();

  constructor(
    readonly dataSource: DataSource,
    private readonly options: DatabaseOptions = { preparedStatements: true },
  ) {}

  /**
   * Runs a statement on a request's hot path and returns its rows (an UPDATE's or DELETE's RETURNING rows too). It
   * goes straight to node-postgres (or PGlite's session), skipping TypeORM's per-query work, as a prepared statement
   * (unless prepared statements are off). Inside `tx` it runs on that transaction's connection. Fails as TypeORM's
   * queries do, with a QueryFailedError.
   */
  async run<Values, Row>(statement: Statement<Values, Row>, values: Values, tx?: Tx): Promise<Row[]> {
    const sql = statement.text;
    const params = statement.values(values);
    const connection = this.direct(tx);
    if (!connection) return returnedRows<Row>(await (tx ?? this.manager).query(sql, params));
    const config = this.options.preparedStatements ? { name: statement.preparedName, text: sql, values: params } : { text: sql, values: params };
    try {
      return (await connection.query(config)).rows as Row[];
    } catch (error) {
      throw new QueryFailedError(sql, params, error instanceof Error ? error : new Error(String(error)));
    }
  }

  /**
   * Where `run` can talk to the database directly: the connection a transaction holds, or the pool outside one
   * (node-postgres's, or the PGlite pool's, which takes the same query configs).
   */
  private direct(tx: Tx | undefined): DirectQueryable | null {
    if (tx?.queryRunner) {
      // A released runner's connection is back in the pool, maybe someone else's now: TypeORM's path refuses it.
      if (tx.queryRunner.isReleased) return null;
      const connection: unknown = (tx.queryRunner as { databaseConnection?: unknown }).databaseConnection;
      return connection instanceof pg.Client || connection instanceof PgliteConnection ? connection : null;
    }
    const pool: unknown = (this.dataSource.driver as { master?: unknown }).master;
    return pool instanceof pg.Pool || pool instanceof PglitePool ? pool : null;
  }

  /**
   * Runs `work` in one transaction. Should the transaction's connection be lost meanwhile (the server restarted),
   * TypeORM releases it at once and every later statement fails as if the handle had been misused: the failure
   * then reports the loss itself, so that callers see a database outage and not a bug.
   */
  async transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    const hooks: TransactionHooks = { beforeCommit: [], afterCommit: [], afterEnd: [] };
    let connection: pg.ClientBase | null = null;
    let lost: Error | undefined;
    const onLost = (error: Error) => (lost ??= error);
    let result: T;
    try {
      result = await this.dataSource.transaction(async (tx) => {
        const client: unknown = (tx.queryRunner as { databaseConnection?: unknown } | undefined)?.databaseConnection;
        if (client instanceof pg.Client) (connection = client).on('error', onLost);
        this.hooks.set(tx, hooks);
        try {
          const value = await work(tx);
          // In registration order; a hook may register another, which then runs too.
          for (let i = 0; i < hooks.beforeCommit.length; i++) await hooks.beforeCommit[i]!();
          return value;
        } catch (error) {
          // Nothing releases the runner before the transaction ends but TypeORM, when the connection reports an
          // error — which may come between BEGIN and this callback, before onLost listens.
          if (error instanceof QueryRunnerProviderAlreadyReleasedError) lost ??= new DatabaseConnectionLost(error);
          throw error;
        }
      });
    } catch (error) {
      throw lost ?? error;
    } finally {
      (connection as pg.ClientBase | null)?.removeListener('error', onLost);
      this.runHooks(hooks.afterEnd, 'after-end');
    }
    this.runHooks(hooks.afterCommit, 'after-commit');
    return result;
  }

  /** Runs hooks that must not change the transaction's outcome: one that throws is logged, and the rest still run. */
  private runHooks(hooks: ReadonlyArray<() => void>, kind: string): void {
    for (const hook of hooks) {
      try {
        hook();
      } catch (error) {
        this.logger.warn({ msg: `${kind} hook failed` }, error);
      }
    }
  }

  /** Runs `hook` inside `tx` once its work is done, just before COMMIT. False if `tx` is not from transaction(). */
  beforeCommit(tx: Tx, hook: () => Promise<void>): boolean {
    const hooks = this.hooks.get(tx);
    hooks?.beforeCommit.push(hook);
    return hooks !== undefined;
  }

  /** Runs `hook` after `tx` has committed (never if it rolls back). False if `tx` is not from transaction(). */
  afterCommit(tx: Tx, hook: () => void): boolean {
    const hooks = this.hooks.get(tx);
    hooks?.afterCommit.push(hook);
    return hooks !== undefined;
  }

  /** Runs `hook` once `tx` has ended, committed or not. False if `tx` is not from transaction(). */
  afterEnd(tx: Tx, hook: () => void): boolean {
    const hooks = this.hooks.get(tx);
    hooks?.afterEnd.push(hook);
    return hooks !== undefined;
  }

  get manager(): Tx {
    return this.dataSource.manager;
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}

/** The data source (migrated at boot) and Database, for every module; `entities` are the tables' entity classes. */
@Module({})
export class DatabaseModule {
  static forRoot(entities: EntityClasses): DynamicModule {
    return {
      module: DatabaseModule,
      global: true,
      providers: [
        {
          provide: DataSource,
          inject: [GATEHOUSE_CONFIG],
          useFactory: async (config: GatehouseConfig) => {
            const logger = new Logger('Database');
            const { dataSource, applied } = await connectAtBoot(config.database, entities, logger);
            logger.log({ msg: 'database ready', kind: config.database.kind, migrations_applied: applied });
            return dataSource;
          },
        },
        {
          provide: Database,
          inject: [DataSource, GATEHOUSE_CONFIG],
          useFactory: (dataSource: DataSource, config: GatehouseConfig) =>
            // PGlite is one session of this process's own: nothing in between to lose its prepared statements.
            new Database(dataSource, { preparedStatements: config.database.kind === 'pglite' || config.database.preparedStatements }),
        },
      ],
      exports: [DataSource, Database],
    };
  }
}
