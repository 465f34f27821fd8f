import { DynamicModule, Module } from '@nestjs/common';
import type { GatehouseConfig } from './config/config.js';
import type { Secrets } from './config/secrets.js';
import { ConfigModule } from './config/config.module.js';
import { DatabaseModule } from './database/database.module.js';
import { ENTITIES } from './entities.js';
import { RecordCacheModule } from './database/record-cache.module.js';
import { EmbeddedVacuumModule } from './database/embedded-vacuum.module.js';
import { AuditModule } from './audit/audit.module.js';
import type { AuditModuleOptions } from './audit/audit-options.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { KeysModule } from './keys/keys.module.js';
import { ResourcesModule } from './resources/resources.module.js';
import { IdentityProvidersModule } from './identity-providers/identity-providers.module.js';
import { DynamicRegistrationModule, RegistrationModule } from './registration/registration.module.js';
import { DiscoveryModule } from './discovery/discovery.module.js';
import { AuthorizationModule } from './authorization/authorization.module.js';
import { TokensModule } from './tokens/tokens.module.js';
import { AccountModule } from './account/account.module.js';
import { ConsoleModule } from './console/console.module.js';
import { HealthModule } from './health/health.module.js';
import { IntrospectionModule } from './introspection/introspection.module.js';
import { AdminModule } from './admin/admin.module.js';
import { RateLimitModule } from './rate-limit/rate-limit.module.js';
import { FastLaneModule } from './fast-lane/fast-lane.module.js';
import { HostResolverModule, systemHostResolver, type HostResolver } from './registration/host-resolver.js';
import { ProvenCallers } from './introspection/rate-limit-callers.js';
import { RateLimitAudit } from './audit/rate-limit-audit.js';

/** What the embedding program (main.ts, the CLI, tests) may choose besides the configuration. */
export interface AppModuleOptions {
  /** How client metadata document hosts are resolved: the system resolver unless a test fakes DNS. */
  hostResolver?: HostResolver;
  /** Audit delivery on or off (off in the CLI), extra sinks, in-process hooks. */
  audit?: AuditModuleOptions;
}

@Module({})
export class AppModule {
  static forRoot(config: GatehouseConfig, secrets: Secrets, options: AppModuleOptions = {}): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config, secrets),
        HostResolverModule.forRoot(options.hostResolver ?? systemHostResolver),
        DatabaseModule.forRoot(ENTITIES),
        RecordCacheModule,
        EmbeddedVacuumModule,
        MetricsModule,
        AuditModule.forRoot(options.audit),
        KeysModule,
        ResourcesModule,
        IdentityProvidersModule,
        RegistrationModule,
        ...(config.registration.dynamicRegistration ? [DynamicRegistrationModule] : []),
        DiscoveryModule,
        AuthorizationModule,
        TokensModule,
        AccountModule,
        ConsoleModule,
        IntrospectionModule,
        HealthModule,
        AdminModule,
        RateLimitModule.forRoot({ imports: [IntrospectionModule], callers: ProvenCallers, observer: RateLimitAudit }),
        FastLaneModule,
      ],
    };
  }
}
