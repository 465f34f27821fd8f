import { Global, Module } from '@nestjs/common';
import { AdminController } from './admin.controller.js';
import { LocalAdminAccess } from './local-admin-access.js';

/** Global: every feature's admin controller guards itself with AdminGuard, which consults LocalAdminAccess. */
@Global()
@Module({ controllers: [AdminController], providers: [LocalAdminAccess], exports: [LocalAdminAccess] })
export class AdminModule {}
