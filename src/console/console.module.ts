import { Module } from '@nestjs/common';
import { AccountGithubStartGuard } from '../account/account-sign-in.js';
import { AccountModule } from '../account/account.module.js';
import { AuthorizationModule } from '../authorization/authorization.module.js';
import { KeysModule } from '../keys/keys.module.js';
import { ResourcesModule } from '../resources/resources.module.js';
import { RegistrationModule } from '../registration/registration.module.js';
import { TokensModule } from '../tokens/tokens.module.js';
import { AdminOperatorsController } from './admin-operators.controller.js';
import { ConsoleAccess } from './console-access.js';
import { ConsoleAssetsController } from './console-assets.controller.js';
import { ConsoleAuditController } from './console-audit.controller.js';
import { ConsoleClientsController } from './console-clients.controller.js';
import { ConsoleClientsRepository } from './console-clients.repository.js';
import { ConsoleController } from './console.controller.js';
import { ConsoleResourcesController } from './console-resources.controller.js';
import { ConsoleUsersController } from './console-users.controller.js';
import { ConsoleUsersRepository } from './console-users.repository.js';
import { ConsoleRepository } from './console.repository.js';
import { ConsoleService } from './console.service.js';
import { OperatorsService } from './operators.service.js';

/** /console, the operators' web UI, and the admin API that names its operators. */
@Module({
  imports: [AuthorizationModule, KeysModule, ResourcesModule, RegistrationModule, TokensModule, AccountModule],
  controllers: [ConsoleController, ConsoleAssetsController, AdminOperatorsController, ConsoleResourcesController, ConsoleClientsController, ConsoleUsersController, ConsoleAuditController],
  providers: [ConsoleService, ConsoleAccess, OperatorsService, ConsoleRepository, AccountGithubStartGuard, ConsoleUsersRepository, ConsoleClientsRepository],
})
export class ConsoleModule {}
