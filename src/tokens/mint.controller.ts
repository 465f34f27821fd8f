import { Body, Controller, HttpCode, Post, Req, UsePipes } from '@nestjs/common';
import type { Request } from 'express';
import { JsonOnly, NoStore } from '../common/oauth-body.decorator.js';
import { contextOf } from '../common/http.js';
import { strictValidationPipe } from '../common/validation.js';
import { CallingResource, ResourceServerApi } from '../resources/registration-secret.guard.js';
import type { ResourceServerEntity } from '../resources/resource-server.entity.js';
import { MintTokenDto } from './dto/mint-token.dto.js';
import { MintService } from './mint.service.js';
import type { TokenResponse } from './grants/grant-handler.js';
import { RateLimit } from '../rate-limit/rate-limit.decorator.js';

/** POST /api/oauth/token/exchange — a product backend mints tokens for its own signed-in users. */
@Controller('api/oauth/token/exchange')
@RateLimit('mint')
@NoStore()
export class MintController {
  constructor(private readonly mint: MintService) {}

  @Post()
  @HttpCode(200)
  @ResourceServerApi()
  @JsonOnly()
  @UsePipes(strictValidationPipe)
  async exchange(@CallingResource() resource: ResourceServerEntity, @Body() body: MintTokenDto, @Req() req: Request): Promise<TokenResponse> {
    return this.mint.mint(resource, body, contextOf(req));
  }
}
