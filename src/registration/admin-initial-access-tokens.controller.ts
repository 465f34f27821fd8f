import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { AdminApi } from '../admin/admin.guard.js';
import { CreateInitialAccessTokenDto, type InitialAccessTokenView } from './dto/initial-access-token.dto.js';
import { InitialAccessTokens, toInitialAccessTokenView } from './initial-access-tokens.service.js';
import { RateLimit } from '../rate-limit/rate-limit.decorator.js';
import type { RequestContext } from '../common/http.js';
import { InRequest } from '../common/request-context.middleware.js';

/** Initial access tokens for dynamic registration (RFC 7591 §3): create (shown once), list, revoke. */
@Controller('admin/initial-access-tokens')
@RateLimit('admin')
@AdminApi()
export class AdminInitialAccessTokensController {
  constructor(private readonly tokens: InitialAccessTokens) {}

  @Post()
  async create(@Body() body: CreateInitialAccessTokenDto, @InRequest() request?: RequestContext): Promise<InitialAccessTokenView & { token: string }> {
    const { token, secret } = await this.tokens.create(body, request);
    return { ...toInitialAccessTokenView(token), token: secret };
  }

  @Get()
  async list(): Promise<InitialAccessTokenView[]> {
    const now = Date.now();
    return (await this.tokens.list()).map((token) => toInitialAccessTokenView(token, now));
  }

  @Delete(':id')
  @HttpCode(204)
  async revoke(@Param('id') id: string, @InRequest() request?: RequestContext): Promise<void> {
    await this.tokens.revoke(id, request);
  }
}
