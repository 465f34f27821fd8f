import { Module } from '@nestjs/common';
import { AdminResourcesController } from './admin-resources.controller.js';
import { ResourceServerRepository } from './resource-server.repository.js';
import { ResourcesService } from './resources.service.js';

@Module({
  controllers: [AdminResourcesController],
  providers: [ResourcesService, ResourceServerRepository],
  exports: [ResourcesService],
})
export class ResourcesModule {}
