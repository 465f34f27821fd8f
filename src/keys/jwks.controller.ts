import { Controller, Get, Header } from '@nestjs/common';
import { KeyService, type PublicJwk } from './key.service.js';
import { RateLimit } from '../rate-limit/rate-limit.decorator.js';
import { PublicCors } from '../common/cors.middleware.js';
import { FastPath } from '../common/fast-path.decorator.js';

@PublicCors()
@Controller()
@RateLimit('discovery')
export class JwksController {
  constructor(private readonly keys: KeyService) {}

  @Get('/.well-known/jwks.json')
  @Header('Cache-Control', 'public, max-age=300')
  @Header('Content-Type', 'application/jwk-set+json')
  @FastPath({ document: true })
  jwks(): { keys: PublicJwk[] } {
    return this.keys.jwks();
  }
}
