import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { GatehouseGuardOptions } from './options.js';

export type { GatehouseGuardOptions, RevocationCheck } from './options.js';

export const { ConfigurableModuleClass, MODULE_OPTIONS_TOKEN: GATEHOUSE_GUARD_OPTIONS, OPTIONS_TYPE, ASYNC_OPTIONS_TYPE } =
  new ConfigurableModuleBuilder<GatehouseGuardOptions>().setClassMethodName('forRoot').build();
