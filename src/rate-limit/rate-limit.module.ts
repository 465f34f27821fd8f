import { Module, type DynamicModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { getStorageToken } from '@nestjs/throttler';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { RATE_LIMIT_CALLERS, RATE_LIMIT_OBSERVER, type RateLimitModuleOptions } from './rate-limit-options.js';
import { RateLimitStorage, connectRedis } from './rate-limit-storage.js';
import { RateLimitGuard, RateLimiter } from './rate-limit.guard.js';
import { RequestTracker } from './request-tracker.js';

/**
 * Rate limits on every route (see RateLimitGuard), counted in Redis when REDIS_URL is set so that all instances
 * share one budget, in memory otherwise. The application passes in who checks callers' credentials and who hears
 * of blocks, since the modules that do both sit above this one.
 */
@Module({})
export class RateLimitModule {
  static forRoot(options: RateLimitModuleOptions): DynamicModule {
    return {
      module: RateLimitModule,
      global: true,
      imports: options.imports,
      providers: [
        {
          provide: RateLimitStorage,
          inject: [GATEHOUSE_CONFIG, MetricsService],
          useFactory: (config: GatehouseConfig, metrics: MetricsService) =>
            new RateLimitStorage(config.redisUrl ? connectRedis(config.redisUrl) : null, (degraded) => metrics.rateLimitStoreDegraded.set(degraded ? 1 : 0)),
        },
        { provide: getStorageToken(), useExisting: RateLimitStorage },
        { provide: RATE_LIMIT_CALLERS, useExisting: options.callers },
        { provide: RATE_LIMIT_OBSERVER, useExisting: options.observer },
        RequestTracker,
        RateLimiter,
        { provide: APP_GUARD, useClass: RateLimitGuard },
      ],
      exports: [RateLimitStorage, RateLimiter],
    };
  }
}
