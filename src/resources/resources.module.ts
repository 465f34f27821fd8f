import { Module } from '@nestjs/common';
import { AdminResourcesController } from './admin-resources.controller.js';
import { ResourceServerRepository } from './resource-server.repository.js';
import { ResourcesService } from './resources.service.js';
import { RegistrationSecretGuard } from './registration-secret.guard.js';

@Module({
  controllers: [AdminResourcesController],
  providers: [ResourcesService, ResourceServerRepository, RegistrationSecretGuard],
  exports: [ResourcesService, RegistrationSecretGuard],
})
export class ResourcesModule {}
