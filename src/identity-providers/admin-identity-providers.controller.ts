import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import { AdminApi } from '../admin/admin.guard.js';
import { RateLimit } from '../rate-limit/rate-limit.decorator.js';
import type { RequestContext } from '../common/http.js';
import { InRequest } from '../common/request-context.middleware.js';
import { CreateIdentityProviderDto, UpdateIdentityProviderDto, type IdentityProviderView } from './dto/identity-provider.dto.js';
import { IdentityProvidersService } from './identity-providers.service.js';

@Controller('admin/identity-providers')
@RateLimit('admin')
@AdminApi()
export class AdminIdentityProvidersController {
  constructor(private readonly providers: IdentityProvidersService) {}

  @Post()
  async create(@Body() body: CreateIdentityProviderDto, @InRequest() request?: RequestContext): Promise<IdentityProviderView> {
    return this.providers.view(await this.providers.create(body, request));
  }

  @Get()
  async list(): Promise<IdentityProviderView[]> {
    return (await this.providers.list()).map((provider) => this.providers.view(provider));
  }

  @Get(':id')
  async get(@Param('id') id: string): Promise<IdentityProviderView> {
    return this.providers.view(await this.providers.get(id));
  }

  @Patch(':id')
  async update(@Param('id') id: string, @Body() body: UpdateIdentityProviderDto, @InRequest() request?: RequestContext): Promise<IdentityProviderView> {
    return this.providers.view(await this.providers.update(id, body, request));
  }

  @Delete(':id')
  @HttpCode(204)
  async delete(@Param('id') id: string, @InRequest() request?: RequestContext): Promise<void> {
    await this.providers.delete(id, request);
  }
}
