import { Module } from '@nestjs/common';
import { AdminClientsController } from './admin-clients.controller.js';
import { AdminInitialAccessTokensController } from './admin-initial-access-tokens.controller.js';
import { ClientAuthenticator } from './client-authenticator.js';
import { ClientAssertionVerifier } from './client-assertion.js';
import { ClientAssertionJtiRepository } from './client-assertion-jti.repository.js';
import { ClientKeySets } from './client-key-sets.js';
import { ClientRepository } from './client.repository.js';
import { ClientsService } from './clients.service.js';
import { ClientsHousekeeping } from './clients-housekeeping.js';
import { InitialAccessTokenRepository } from './initial-access-token.repository.js';
import { InitialAccessTokens } from './initial-access-tokens.service.js';
import { ClientMetadataDocuments } from './client-metadata-document.js';
import { MetadataFetcher } from './metadata-fetcher.js';
import { ClientConfigurationController, RegistrationController } from './registration.controller.js';

@Module({
  controllers: [ClientConfigurationController, AdminClientsController, AdminInitialAccessTokensController],
  // MetadataFetcher needs HOST_RESOLVER, which the application provides (HostResolverModule).
  providers: [
    ClientsService,
    ClientRepository,
    ClientAuthenticator,
    ClientAssertionVerifier,
    ClientAssertionJtiRepository,
    ClientKeySets,
    ClientMetadataDocuments,
    MetadataFetcher,
    InitialAccessTokens,
    InitialAccessTokenRepository,
    ClientsHousekeeping,
  ],
  exports: [ClientsService, ClientAuthenticator, InitialAccessTokens],
})
export class RegistrationModule {}

/**
 * POST /register, imported by the application only when DYNAMIC_REGISTRATION is on: switched off, the route does
 * not exist (404, as in node-oidc-provider with registration disabled), rather than answering a refusal RFC 7591
 * has no error code for.
 */
@Module({ imports: [RegistrationModule], controllers: [RegistrationController] })
export class DynamicRegistrationModule {}
