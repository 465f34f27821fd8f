import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post } from '@nestjs/common';
import { AdminApi } from '../admin/admin.guard.js';
import { CreateResourceServerDto, UpdateResourceServerDto, type ResourceServerView } from './dto/resource-server.dto.js';
import { ResourcesService, toResourceServerView } from './resources.service.js';
import { RateLimit } from '../rate-limit/rate-limit.decorator.js';

@Controller('admin/resources')
@RateLimit('admin')
@AdminApi()
export class AdminResourcesController {
  constructor(private readonly resources: ResourcesService) {}

  @Post()
  async create(@Body() body: CreateResourceServerDto): Promise<ResourceServerView & { registration_secret: string }> {
    const { resource, registrationSecret } = await this.resources.create(body);
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
  async update(@Param('id') id: string, @Body() body: UpdateResourceServerDto): Promise<ResourceServerView> {
    return toResourceServerView(await this.resources.update(id, body));
  }

  @Delete(':id')
  @HttpCode(204)
  async delete(@Param('id') id: string): Promise<void> {
    await this.resources.delete(id);
  }

  @Post(':id/secret')
  @HttpCode(200)
  async rotateSecret(@Param('id') id: string): Promise<ResourceServerView & { registration_secret: string }> {
    const { resource, registrationSecret } = await this.resources.rotateSecret(id);
    return { ...toResourceServerView(resource), registration_secret: registrationSecret };
  }
}
