import { Module } from '@nestjs/common';
import { AccountGithubStartGuard } from '../account/account-sign-in.js';
import { AuthorizationModule } from '../authorization/authorization.module.js';
import { KeysModule } from '../keys/keys.module.js';
import { ResourcesModule } from '../resources/resources.module.js';
import { AdminOperatorsController } from './admin-operators.controller.js';
import { ConsoleAccess } from './console-access.js';
import { ConsoleAssetsController } from './console-assets.controller.js';
import { ConsoleAuditController } from './console-audit.controller.js';
import { ConsoleController } from './console.controller.js';
import { ConsoleRepository } from './console.repository.js';
import { ConsoleService } from './console.service.js';
import { OperatorsService } from './operators.service.js';

/** /console, the operators' web UI, and the admin API that names its operators. */
@Module({
  imports: [AuthorizationModule, KeysModule, ResourcesModule],
  controllers: [ConsoleController, ConsoleAssetsController, AdminOperatorsController, ConsoleAuditController],
  providers: [ConsoleService, ConsoleAccess, OperatorsService, ConsoleRepository, AccountGithubStartGuard],
})
export class ConsoleModule {}
