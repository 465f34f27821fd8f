import { Module } from '@nestjs/common';
import { AuthorizationModule } from '../authorization/authorization.module.js';
import { KeysModule } from '../keys/keys.module.js';
import { RegistrationModule } from '../registration/registration.module.js';
import { ResourcesModule } from '../resources/resources.module.js';
import { AccessTokenIssuer } from './access-token.issuer.js';
import { GrantRepository, RefreshTokenRepository } from './grant.repository.js';
import { AuthorizationCodeGrant } from './grants/authorization-code.grant.js';
import { GRANT_HANDLERS } from './grants/grant-handler.js';
import { RefreshTokenGrant } from './grants/refresh-token.grant.js';
import { TokenMinter } from './token-minter.js';
import { AccessTokenVerifier } from './access-token.verifier.js';
import { TokenStatusRepository } from './token-status.repository.js';
import { GrantsService } from './grants.service.js';
import { TokensController } from './tokens.controller.js';
import { MintController } from './mint.controller.js';
import { AdminGrantsController } from './admin-grants.controller.js';
import { MintService } from './mint.service.js';
import { AdminUsersController } from './admin-users.controller.js';
import { UserManagementService } from './user-management.service.js';
import { TokensHousekeeping } from './tokens-housekeeping.js';

@Module({
  imports: [AuthorizationModule, RegistrationModule, ResourcesModule, KeysModule],
  controllers: [TokensController, MintController, AdminGrantsController, AdminUsersController],
  providers: [
    AccessTokenIssuer,
    TokenMinter,
    MintService,
    AccessTokenVerifier,
    TokenStatusRepository,
    GrantsService,
    UserManagementService,
    TokensHousekeeping,
    GrantRepository,
    RefreshTokenRepository,
    AuthorizationCodeGrant,
    RefreshTokenGrant,
    {
      provide: GRANT_HANDLERS,
      inject: [AuthorizationCodeGrant, RefreshTokenGrant],
      useFactory: (...handlers: Array<AuthorizationCodeGrant | RefreshTokenGrant>) => handlers,
    },
  ],
  exports: [TokenMinter, GrantRepository, AccessTokenIssuer, AccessTokenVerifier, TokenStatusRepository, GrantsService, UserManagementService],
})
export class TokensModule {}
