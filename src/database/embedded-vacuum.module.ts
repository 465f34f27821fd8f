import { Module } from '@nestjs/common';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { EmbeddedVacuum } from './embedded-vacuum.js';
import { TableUpkeepRepository } from './table-upkeep.repository.js';

/** The embedded database's autovacuum (EmbeddedVacuum); on PostgreSQL, autovacuum is the server's. */
@Module({
  providers: [
    TableUpkeepRepository,
    {
      provide: EmbeddedVacuum,
      inject: [TableUpkeepRepository, GATEHOUSE_CONFIG],
      useFactory: (tables: TableUpkeepRepository, config: GatehouseConfig) => (config.database.kind === 'pglite' ? new EmbeddedVacuum(tables) : null),
    },
  ],
})
export class EmbeddedVacuumModule {}
