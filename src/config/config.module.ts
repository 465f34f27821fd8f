import { DynamicModule, Global, Module } from '@nestjs/common';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from './config.js';
import { GATEHOUSE_SECRETS, type Secrets } from './secrets.js';

/** Makes the validated config and the boot-time secrets injectable everywhere. */
@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: GatehouseConfig, secrets: Secrets): DynamicModule {
    return {
      module: ConfigModule,
      providers: [
        { provide: GATEHOUSE_CONFIG, useValue: config },
        { provide: GATEHOUSE_SECRETS, useValue: secrets },
      ],
      exports: [GATEHOUSE_CONFIG, GATEHOUSE_SECRETS],
    };
  }
}
