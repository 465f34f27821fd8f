import { DynamicModule, Module } from '@nestjs/common';
import type { GatehouseConfig } from './config/config.js';
import type { Secrets } from './config/secrets.js';
import { ConfigModule } from './config/config.module.js';
import { DatabaseModule } from './database/database.module.js';
import { AuditModule } from './audit/audit.module.js';
import { KeysModule } from './keys/keys.module.js';
import { ResourcesModule } from './resources/resources.module.js';
import { RegistrationModule } from './registration/registration.module.js';
import { DiscoveryModule } from './discovery/discovery.module.js';
import { AuthorizationModule } from './authorization/authorization.module.js';
import { TokensModule } from './tokens/tokens.module.js';
import { HealthModule } from './health/health.module.js';
import { IntrospectionModule } from './introspection/introspection.module.js';
import { AdminModule } from './admin/admin.module.js';

@Module({})
export class AppModule {
  static forRoot(config: GatehouseConfig, secrets: Secrets): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config, secrets),
        DatabaseModule,
        AuditModule,
        KeysModule,
        ResourcesModule,
        RegistrationModule,
        DiscoveryModule,
        AuthorizationModule,
        TokensModule,
        IntrospectionModule,
        HealthModule,
        AdminModule,
      ],
    };
  }
}
