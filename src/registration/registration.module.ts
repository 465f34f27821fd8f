import { Module } from '@nestjs/common';
import { AdminClientsController } from './admin-clients.controller.js';
import { ClientAuthenticator } from './client-authenticator.js';
import { ClientRepository } from './client.repository.js';
import { ClientsService } from './clients.service.js';
import { RegistrationController } from './registration.controller.js';

@Module({
  controllers: [RegistrationController, AdminClientsController],
  providers: [ClientsService, ClientRepository, ClientAuthenticator],
  exports: [ClientsService, ClientAuthenticator],
})
export class RegistrationModule {}
