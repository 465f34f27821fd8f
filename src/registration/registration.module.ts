import { Module } from '@nestjs/common';
import { AdminClientsController } from './admin-clients.controller.js';
import { ClientAuthenticator } from './client-authenticator.js';
import { ClientRepository } from './client.repository.js';
import { ClientsService } from './clients.service.js';
import { ClientMetadataDocuments } from './client-metadata-document.js';
import { MetadataFetcher } from './metadata-fetcher.js';
import { RegistrationController } from './registration.controller.js';

@Module({
  controllers: [RegistrationController, AdminClientsController],
  // MetadataFetcher needs HOST_RESOLVER, which the application provides (HostResolverModule).
  providers: [ClientsService, ClientRepository, ClientAuthenticator, ClientMetadataDocuments, MetadataFetcher],
  exports: [ClientsService, ClientAuthenticator],
})
export class RegistrationModule {}
