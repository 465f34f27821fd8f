import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { getStorageToken } from '@nestjs/throttler';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { RegistrationModule } from '../registration/registration.module.js';
import { ResourcesModule } from '../resources/resources.module.js';
import { IntrospectionModule } from '../introspection/introspection.module.js';
import { RateLimitStorage, connectRedis } from './rate-limit-storage.js';
import { RateLimitGuard, RateLimiter } from './rate-limit.guard.js';
import { RequestTracker } from './request-tracker.js';

/**
 * Rate limits on every route (see RateLimitGuard), counted in Redis when REDIS_URL is set so that all instances
 * share one budget, in memory otherwise.
 */
@Global()
@Module({
  imports: [
    RegistrationModule,
    ResourcesModule,
    IntrospectionModule,
  ],
  providers: [
    {
      provide: RateLimitStorage,
      inject: [GATEHOUSE_CONFIG, MetricsService],
      useFactory: (config: GatehouseConfig, metrics: MetricsService) =>
        new RateLimitStorage(config.redisUrl ? connectRedis(config.redisUrl) : null, (degraded) => metrics.rateLimitStoreDegraded.set(degraded ? 1 : 0)),
    },
    { provide: getStorageToken(), useExisting: RateLimitStorage },
    RequestTracker,
    RateLimiter,
    { provide: APP_GUARD, useClass: RateLimitGuard },
  ],
  exports: [RateLimitStorage, RateLimiter],
})
export class RateLimitModule {}
