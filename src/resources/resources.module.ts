import { Module } from '@nestjs/common';
import { AdminResourcesController } from './admin-resources.controller.js';
import { ResourceServerRepository } from './resource-server.repository.js';
import { ResourcesService } from './resources.service.js';
import { RegistrationSecretGuard } from './registration-secret.guard.js';
import { SignInPolicyWarnings } from './sign-in-policy-warnings.js';

@Module({
  controllers: [AdminResourcesController],
  providers: [ResourcesService, ResourceServerRepository, RegistrationSecretGuard, SignInPolicyWarnings],
  exports: [ResourcesService, RegistrationSecretGuard],
})
export class ResourcesModule {}
