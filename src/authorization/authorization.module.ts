import { Module } from '@nestjs/common';
import { RegistrationModule } from '../registration/registration.module.js';
import { ResourcesModule } from '../resources/resources.module.js';
import { AuthorizationCodeRepository } from './authorization-code.repository.js';
import { AuthorizationController } from './authorization.controller.js';
import { AuthorizationHousekeeping } from './authorization-housekeeping.js';
import { AuthorizationService } from './authorization.service.js';
import { BrowserSession } from './browser-session.js';
import { ConsentRepository } from './consent.repository.js';
import { GithubCallbackGuard, GithubLogin, GithubStartGuard } from './github-login.js';
import { InteractionRepository } from './interaction.repository.js';
import { UserRepository } from './user.repository.js';
import { SignInService } from './sign-in.service.js';
import { CodeIssuer } from './code-issuer.js';
import { InteractionHandleRepository } from './interaction-handle.repository.js';
import { ProductCompletionController } from './product-completion.controller.js';
import { ProductCompletionService } from './product-completion.service.js';

@Module({
  imports: [RegistrationModule, ResourcesModule],
  controllers: [AuthorizationController, ProductCompletionController],
  providers: [
    AuthorizationService,
    CodeIssuer,
    InteractionHandleRepository,
    ProductCompletionService,
    AuthorizationHousekeeping,
    BrowserSession,
    GithubLogin,
    GithubStartGuard,
    GithubCallbackGuard,
    InteractionRepository,
    ConsentRepository,
    AuthorizationCodeRepository,
    UserRepository,
    SignInService,
  ],
  exports: [AuthorizationCodeRepository, UserRepository, ConsentRepository, AuthorizationHousekeeping, SignInService, BrowserSession],
})
export class AuthorizationModule {}
