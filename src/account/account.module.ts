import { Module } from '@nestjs/common';
import { AuthorizationModule } from '../authorization/authorization.module.js';
import { TokensModule } from '../tokens/tokens.module.js';
import { AccountController } from './account.controller.js';
import { AccountRepository } from './account.repository.js';
import { AccountGithubStartGuard } from './account-sign-in.js';
import { AccountService } from './account.service.js';

/** /account: the signed-in person's own view of the applications they let act for them. */
@Module({
  imports: [AuthorizationModule, TokensModule],
  controllers: [AccountController],
  providers: [AccountService, AccountRepository, AccountGithubStartGuard],
  // The console revokes one grant of a user as the account page does.
  exports: [AccountService],
})
export class AccountModule {}
