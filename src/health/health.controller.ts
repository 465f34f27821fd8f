import { Controller, Get, Header, Res } from '@nestjs/common';
import type { Response } from 'express';
import { DataSource } from 'typeorm';
import { pendingMigrations } from '../database/migration-runner.js';
import { MIGRATIONS } from '../../migrations/index.js';
import { RateLimitStorage } from '../rate-limit/rate-limit-storage.js';
import { RecordCache, type RecordCacheMode } from '../database/record-cache.js';

type RateLimitStoreMode = RateLimitStorage['mode'];
type Readiness =
  | { status: 'ready'; rate_limit_store: RateLimitStoreMode; record_cache: RecordCacheMode }
  | { status: 'unavailable'; reason: string; pending?: string[] };

@Controller()
export class HealthController {
  constructor(
    private readonly dataSource: DataSource,
    private readonly rateLimits: RateLimitStorage,
    private readonly recordCache: RecordCache,
  ) {}

  /** The process is up and serving HTTP. */
  @Get('healthz')
  @Header('Cache-Control', 'no-store')
  health(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /**
   * The database answers and every migration this build knows has been applied; 503 otherwise. An unreachable
   * Redis does not make an instance unready (it counts in memory meanwhile): `rate_limit_store` says which. Nor
   * does a record cache listener that is down (every read goes to the database meanwhile): `record_cache` says so.
   */
  @Get('readyz')
  @Header('Cache-Control', 'no-store')
  async ready(@Res({ passthrough: true }) res: Response): Promise<Readiness> {
    let pending: string[];
    try {
      pending = await pendingMigrations(this.dataSource, MIGRATIONS);
    } catch {
      res.status(503);
      return { status: 'unavailable', reason: 'database unreachable' };
    }
    if (pending.length) {
      res.status(503);
      return { status: 'unavailable', reason: 'migrations pending', pending };
    }
    return { status: 'ready', rate_limit_store: this.rateLimits.mode, record_cache: this.recordCache.mode };
  }
}
