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
import { TokensController } from './tokens.controller.js';
import { TokensHousekeeping } from './tokens-housekeeping.js';

@Module({
  imports: [AuthorizationModule, RegistrationModule, ResourcesModule, KeysModule],
  controllers: [TokensController],
  providers: [
    AccessTokenIssuer,
    TokenMinter,
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
  exports: [TokenMinter, GrantRepository, AccessTokenIssuer],
})
export class TokensModule {}
