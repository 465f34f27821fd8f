import { Module } from '@nestjs/common';
import { AuthorizationModule } from '../authorization/authorization.module.js';
import { KeysModule } from '../keys/keys.module.js';
import { RegistrationModule } from '../registration/registration.module.js';
import { ResourcesModule } from '../resources/resources.module.js';
import { AccessTokenIssuer } from './access-token.issuer.js';
import { GrantRepository, RefreshTokenRepository } from './grant.repository.js';
import { AuthorizationCodeGrant } from './grants/authorization-code.grant.js';
import { GRANT_HANDLERS, type GrantHandler } from './grants/grant-handler.js';
import { RefreshTokenGrant } from './grants/refresh-token.grant.js';
import { ClientCredentialsGrant } from './grants/client-credentials.grant.js';
import { ClientCredentialsGrantRepository } from './client-credentials-grant.repository.js';
import { ClientCredentialsService } from './client-credentials.service.js';
import { AdminClientCredentialsController } from './admin-client-credentials.controller.js';
import { TokenMinter } from './token-minter.js';
import { AccessTokenVerifier } from './access-token.verifier.js';
import { TokenStatusRepository } from './token-status.repository.js';
import { AccessTokenStandings } from './access-token-standings.js';
import { GrantsService } from './grants.service.js';
import { TokensController } from './tokens.controller.js';
import { MintController } from './mint.controller.js';
import { AdminGrantsController } from './admin-grants.controller.js';
import { MintService } from './mint.service.js';
import { AdminUsersController } from './admin-users.controller.js';
import { UserManagementService } from './user-management.service.js';
import { TokensHousekeeping } from './tokens-housekeeping.js';
import { DpopProofJtiRepository } from './dpop-proof-jti.repository.js';
import { DpopProofVerifier } from './dpop.js';
import { DpopNonces } from './dpop-nonce.js';

@Module({
  imports: [AuthorizationModule, RegistrationModule, ResourcesModule, KeysModule],
  controllers: [TokensController, MintController, AdminGrantsController, AdminUsersController, AdminClientCredentialsController],
  providers: [
    AccessTokenIssuer,
    TokenMinter,
    MintService,
    AccessTokenVerifier,
    TokenStatusRepository,
    AccessTokenStandings,
    GrantsService,
    UserManagementService,
    TokensHousekeeping,
    DpopProofJtiRepository,
    DpopProofVerifier,
    DpopNonces,
    GrantRepository,
    RefreshTokenRepository,
    AuthorizationCodeGrant,
    RefreshTokenGrant,
    ClientCredentialsGrant,
    ClientCredentialsGrantRepository,
    ClientCredentialsService,
    {
      provide: GRANT_HANDLERS,
      inject: [AuthorizationCodeGrant, RefreshTokenGrant, ClientCredentialsGrant],
      useFactory: (...handlers: GrantHandler[]) => handlers,
    },
  ],
  exports: [TokenMinter, GrantRepository, AccessTokenIssuer, AccessTokenVerifier, TokenStatusRepository, AccessTokenStandings, GrantsService, UserManagementService],
})
export class TokensModule {}
