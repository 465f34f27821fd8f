import { Module } from '@nestjs/common';
import { RegistrationModule } from '../registration/registration.module.js';
import { ResourcesModule } from '../resources/resources.module.js';
import { IdentityProvidersModule } from '../identity-providers/identity-providers.module.js';
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
import { SignInChoices } from './sign-in-choices.js';
import { OidcLogin } from './oidc-login.js';
import { OidcLoginController } from './oidc-login.controller.js';
import { SignInPolicyGate } from './sign-in-policy-gate.js';
import { CodeIssuer } from './code-issuer.js';
import { InteractionHandleRepository } from './interaction-handle.repository.js';
import { ProductCompletionController } from './product-completion.controller.js';
import { ProductCompletionService } from './product-completion.service.js';
import { DevLogin } from './dev-login.js';
import { DevLoginController } from './dev-login.controller.js';

@Module({
  imports: [RegistrationModule, ResourcesModule, IdentityProvidersModule],
  controllers: [AuthorizationController, OidcLoginController, DevLoginController, ProductCompletionController],
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
    SignInChoices,
    OidcLogin,
    SignInPolicyGate,
    DevLogin,
  ],
  exports: [AuthorizationCodeRepository, UserRepository, AuthorizationHousekeeping, SignInService, SignInChoices, BrowserSession, GithubLogin, ConsentRepository],
})
export class AuthorizationModule {}
