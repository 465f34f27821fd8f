import { Controller, HttpCode, Post } from '@nestjs/common';
import { AdminApi } from '../admin/admin.guard.js';
import { RateLimit } from '../rate-limit/rate-limit.decorator.js';
import { KeyService } from './key.service.js';
import type { RequestContext } from '../common/http.js';
import { InRequest } from '../common/request-context.middleware.js';

/** The kids a rotation moved: the key retired, the one that now signs, and the freshly published next key. */
export interface KeyRotationView {
  retired: string;
  active: string;
  next: string;
}

/**
 * Signing-key rotation over HTTP, for deployments where the CLI cannot reach the database (the embedded one is
 * locked by the running server; containers). Same operation as `keys rotate`: this instance signs with the new key
 * at once, the others within KEY_RELOAD_SECONDS.
 */
@Controller('admin/keys')
@RateLimit('admin')
@AdminApi()
export class AdminKeysController {
  constructor(private readonly keys: KeyService) {}

  @Post('rotate')
  @HttpCode(200)
  async rotate(@InRequest() request?: RequestContext): Promise<KeyRotationView> {
    const { retired, active, next } = await this.keys.rotate(request);
    return { retired, active, next };
  }
}
