import { Global, Injectable, Logger, Module, type OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { createDataSource, type Tx } from './data-source.js';
import { runMigrations } from './migration-runner.js';
import { MIGRATIONS } from '../../migrations/index.js';

/** Runs work in one transaction; repositories receive the handle. */
@Injectable()
export class Database implements OnApplicationShutdown {
  constructor(readonly dataSource: DataSource) {}

  transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(work);
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

