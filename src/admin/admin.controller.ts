import { Controller, Get, UseGuards } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AdminGuard } from './admin.guard.js';
import { ADMIN_OPENAPI } from './openapi.js';
import { RateLimit } from '../rate-limit/rate-limit.decorator.js';
import { migrationStatus, type MigrationStatus } from '../database/migration-runner.js';
import { MIGRATIONS } from '../../migrations/index.js';

@Controller('admin')
@RateLimit('admin')
@UseGuards(AdminGuard)
export class AdminController {
  constructor(private readonly dataSource: DataSource) {}

  @Get('openapi.json')
  openapi(): typeof ADMIN_OPENAPI {
    return ADMIN_OPENAPI;
  }

  /** The schema as this instance sees it (`migrate status` while the server runs); only reads. */
  @Get('migrations')
  migrations(): Promise<MigrationStatus> {
    return migrationStatus(this.dataSource, MIGRATIONS);
  }
}
