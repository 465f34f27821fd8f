import { Global, Injectable, Logger, Module, type OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { createDataSource, type Tx } from './data-source.js';
import { runMigrations } from './migration-runner.js';
import { MIGRATIONS } from '../../migrations/index.js';

interface TransactionHooks {
  beforeCommit: Array<() => Promise<void>>;
  afterCommit: Array<() => void>;
}

/** Runs work in one transaction; repositories receive the handle. */
@Injectable()
export class Database implements OnApplicationShutdown {
  private readonly logger = new Logger('Database');
  private readonly hooks = new WeakMap<Tx, TransactionHooks>();

  constructor(readonly dataSource: DataSource) {}

  async transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    const hooks: TransactionHooks = { beforeCommit: [], afterCommit: [] };
    const result = await this.dataSource.transaction(async (tx) => {
      this.hooks.set(tx, hooks);
      const value = await work(tx);
      // In registration order; a hook may register another, which then runs too.
      for (let i = 0; i < hooks.beforeCommit.length; i++) await hooks.beforeCommit[i]!();
      return value;
    });
    for (const hook of hooks.afterCommit) {
      try {
        hook();
      } catch (error) {
        this.logger.warn({ msg: 'after-commit hook failed' }, error);
      }
    }
    return result;
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

  get manager(): Tx {
    return this.dataSource.manager;
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}

@Global()
@Module({
  providers: [
    {
      provide: DataSource,
      inject: [GATEHOUSE_CONFIG],
      useFactory: async (config: GatehouseConfig) => {
        const logger = new Logger('Database');
        const dataSource = await createDataSource(config.database);
        await dataSource.initialize();
        const { applied } = await runMigrations(dataSource, MIGRATIONS);
        logger.log({ msg: 'database ready', kind: config.database.kind, migrations_applied: applied });
        return dataSource;
      },
    },
    Database,
  ],
  exports: [DataSource, Database],
})
export class DatabaseModule {}

