import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import { AdminApi } from '../admin/admin.guard.js';
import { CreateResourceServerDto, RotateSecretDto, UpdateResourceServerDto, type ResourceServerView } from './dto/resource-server.dto.js';
import { ResourcesService, toResourceServerView } from './resources.service.js';
import { RateLimit } from '../rate-limit/rate-limit.decorator.js';
import type { RequestContext } from '../common/http.js';
import { InRequest } from '../common/request-context.middleware.js';

@Controller('admin/resources')
@RateLimit('admin')
@AdminApi()
export class AdminResourcesController {
  constructor(private readonly resources: ResourcesService) {}

  @Post()
  async create(@Body() body: CreateResourceServerDto, @InRequest() request?: RequestContext): Promise<ResourceServerView & { registration_secret: string }> {
    const { resource, registrationSecret } = await this.resources.create(body, request);
    return { ...toResourceServerView(resource), registration_secret: registrationSecret };
  }

  @Get()
  async list(): Promise<ResourceServerView[]> {
    return (await this.resources.list()).map(toResourceServerView);
  }

  @Get(':id')
  async get(@Param('id') id: string): Promise<ResourceServerView> {
    return toResourceServerView(await this.resources.get(id));
  }

  @Patch(':id')
  async update(@Param('id') id: string, @Body() body: UpdateResourceServerDto, @InRequest() request?: RequestContext): Promise<ResourceServerView> {
    return toResourceServerView(await this.resources.update(id, body, request));
  }

  @Delete(':id')
  @HttpCode(204)
  async delete(@Param('id') id: string, @InRequest() request?: RequestContext): Promise<void> {
    await this.resources.delete(id, request);
  }

  @Post(':id/secret')
  @HttpCode(200)
  async rotateSecret(
    @Param('id') id: string,
    @Body() body: RotateSecretDto,
    @InRequest() request?: RequestContext,
  ): Promise<ResourceServerView & { registration_secret: string; previous_secret_expires_at: string | null }> {
    const { resource, registrationSecret, previousSecretExpiresAt } = await this.resources.rotateSecret(id, body.overlap_seconds, request);
    return { ...toResourceServerView(resource), registration_secret: registrationSecret, previous_secret_expires_at: previousSecretExpiresAt?.toISOString() ?? null };
  }
}
