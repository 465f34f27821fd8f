import { Module } from '@nestjs/common';
import { AdminOperatorsController } from './admin-operators.controller.js';
import { ConsoleRepository } from './console.repository.js';
import { OperatorsService } from './operators.service.js';

/** /console, the operators' web UI, and the admin API that names its operators. */
@Module({
  controllers: [AdminOperatorsController],
  providers: [OperatorsService, ConsoleRepository],
})
export class ConsoleModule {}
