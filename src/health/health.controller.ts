import { Controller, Get, Header, Res } from '@nestjs/common';
import type { Response } from 'express';
import { DataSource } from 'typeorm';
import { pendingMigrations } from '../database/migration-runner.js';
import { MIGRATIONS } from '../../migrations/index.js';

type Readiness = { status: 'ready' } | { status: 'unavailable'; reason: string; pending?: string[] };

@Controller()
export class HealthController {
  constructor(private readonly dataSource: DataSource) {}

  /** The process is up and serving HTTP. */
  @Get('healthz')
  @Header('Cache-Control', 'no-store')
  health(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** The database answers and every migration this build knows has been applied; 503 otherwise. */
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
    return { status: 'ready' };
  }
}
