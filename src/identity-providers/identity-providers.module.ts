import { Module } from '@nestjs/common';
import { AdminIdentityProvidersController } from './admin-identity-providers.controller.js';
import { IdentityProviderRepository } from './identity-provider.repository.js';
import { IdentityProvidersService } from './identity-providers.service.js';

@Module({
  controllers: [AdminIdentityProvidersController],
  providers: [IdentityProvidersService, IdentityProviderRepository],
  exports: [IdentityProvidersService],
})
export class IdentityProvidersModule {}
