import { Logger, type OnModuleDestroy } from '@nestjs/common';
import { ThrottlerStorageService, type ThrottlerStorage } from '@nestjs/throttler';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import { Redis } from 'ioredis';

type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/**
 * Rate-limit counters: in Redis when REDIS_URL is set, so every instance spends one budget; in this process
 * otherwise.
 *
 * When Redis cannot be reached, each instance counts in memory until it can again. That keeps every limit in
 * force (at worst N instances × the limit) and the service up. Failing open would switch protection off
 * exactly when something is already wrong; failing closed would turn a cache outage into an outage of sign-in
 * for every MCP client. The switch is logged once each way and visible in /metrics and /health.
 */
export class RateLimitStorage implements ThrottlerStorage, OnModuleDestroy {
  private readonly logger = new Logger('RateLimits');
  private readonly local = new ThrottlerStorageService();
  private readonly shared: ThrottlerStorageRedisService | null;
  private degraded = false;

  constructor(
    private readonly redis: Redis | null,
    private readonly onDegradedChange: (degraded: boolean) => void = () => {},
  ) {
    this.shared = redis ? new ThrottlerStorageRedisService(redis) : null;
    redis?.on('error', (error: Error) => this.markDegraded(error));
    redis?.on('ready', () => this.markHealthy());
  }

  /** Where counts go right now: `redis`, `memory` (no REDIS_URL), or `memory-fallback` (Redis unreachable). */
  get mode(): 'redis' | 'memory' | 'memory-fallback' {
    if (!this.shared) return 'memory';
    return this.degraded ? 'memory-fallback' : 'redis';
  }

  async increment(key: string, ttl: number, limit: number, blockDuration: number, throttlerName: string): Promise<ThrottlerStorageRecord> {
    if (this.shared && this.redis?.status === 'ready') {
      try {
        const record = await this.shared.increment(key, ttl, limit, blockDuration, throttlerName);
        this.markHealthy();
        return record;
      } catch (error) {
        this.markDegraded(error);
      }
    } else if (this.shared) {
      this.markDegraded(new Error(`redis connection is ${this.redis?.status ?? 'absent'}`));
    }
    return this.local.increment(key, ttl, limit, blockDuration, throttlerName);
  }

  onModuleDestroy(): void {
    this.local.onApplicationShutdown();
    this.redis?.disconnect(false);
  }

  private markDegraded(error: unknown): void {
    if (this.degraded) return;
    this.degraded = true;
    this.onDegradedChange(true);
    this.logger.warn({ msg: 'rate-limit store unreachable: counting per instance until it is back', store: 'redis', reason: error instanceof Error ? error.message : String(error) });
  }

  private markHealthy(): void {
    if (!this.degraded) return;
    this.degraded = false;
    this.onDegradedChange(false);
    this.logger.log({ msg: 'rate-limit store back: counting shared again', store: 'redis' });
  }
}

/**
 * A Redis connection that never makes a request wait for it: commands fail at once while disconnected (no offline
 * queue), a stuck server times out fast, and reconnection goes on in the background with capped backoff.
 */
export function connectRedis(url: string): Redis {
  return new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: 500,
    connectTimeout: 2000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    lazyConnect: false,
  });
}
