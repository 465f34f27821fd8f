import { applyDecorators, CanActivate, ExecutionContext, Inject, Injectable, Optional, UseGuards, UsePipes } from '@nestjs/common';
import type { Request } from 'express';
import { GATEHOUSE_CONFIG, type GatehouseConfig } from '../config/config.js';
import { safeEqual } from '../common/crypto.js';
import { InvalidToken, NotFound } from '../common/oauth-errors.js';
import { strictValidationPipe } from '../common/validation.js';
import { JsonOnly } from '../common/oauth-body.decorator.js';
import { LocalAdminAccess } from './local-admin-access.js';

/**
 * Admin routes need `Authorization: Bearer <ADMIN_TOKEN>`, compared in constant time, or the local admin token
 * from this machine (LocalAdminAccess, what the CLI uses). Without ADMIN_TOKEN the admin API does not exist for
 * anyone else (404).
 */
@Injectable()
export class AdminGuard implements CanActivate {
  constructor(
    @Inject(GATEHOUSE_CONFIG) private readonly config: GatehouseConfig,
    @Optional() private readonly local?: LocalAdminAccess,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<Request>();
    const header = request.headers.authorization ?? '';
    const match = /^Bearer ([^\s]+)$/i.exec(header);
    if (match?.[1] && this.local?.accepts(match[1], request)) return true;
    const expected = this.config.adminToken;
    if (!expected) throw new NotFound();
    if (!match?.[1] || !safeEqual(match[1], expected)) {
      const error = match ? 'error="invalid_token", ' : '';
      throw new InvalidToken('a valid admin bearer token is required').withChallenge(`Bearer realm="gatehouse-admin", ${error}`.replace(/, $/, ''));
    }
    return true;
  }
}

/** Admin auth plus strict DTO validation: unknown fields are rejected and every error names its field. */
export function AdminApi() {
  return applyDecorators(UseGuards(AdminGuard), JsonOnly(), UsePipes(strictValidationPipe));
}
