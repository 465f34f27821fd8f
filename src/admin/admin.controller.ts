import { Controller, Get, UseGuards } from '@nestjs/common';
import { AdminGuard } from './admin.guard.js';
import { ADMIN_OPENAPI } from './openapi.js';
import { RateLimit } from '../rate-limit/rate-limit.decorator.js';

@Controller('admin')
@RateLimit('admin')
@UseGuards(AdminGuard)
export class AdminController {
  @Get('openapi.json')
  openapi(): typeof ADMIN_OPENAPI {
    return ADMIN_OPENAPI;
  }
}
