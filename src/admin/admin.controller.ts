import { Controller, Get, UseGuards } from '@nestjs/common';
import { AdminGuard } from './admin.guard.js';
import { ADMIN_OPENAPI } from './openapi.js';

@Controller('admin')
@UseGuards(AdminGuard)
export class AdminController {
  @Get('openapi.json')
  openapi(): typeof ADMIN_OPENAPI {
    return ADMIN_OPENAPI;
  }
}
