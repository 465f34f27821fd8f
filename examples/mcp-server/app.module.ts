import { Module, type DynamicModule } from '@nestjs/common';
import { GatehouseGuardModule, type GatehouseGuardOptions } from 'gatehouse-guard';
import { McpController } from './mcp.controller.js';
import { BASE_SCOPES, TOOL_SCOPES } from './projects.js';

@Module({})
export class McpExampleModule {
  static forRoot(options: Pick<GatehouseGuardOptions, 'issuer' | 'resource' | 'revocation'>): DynamicModule {
    return {
      module: McpExampleModule,
      imports: [
        GatehouseGuardModule.forRoot({
          ...options,
          resourceName: 'Projects (Gatehouse example)',
          scopesSupported: [...new Set([...BASE_SCOPES, ...Object.values(TOOL_SCOPES).flat()])],
          requiredScopes: BASE_SCOPES,
        }),
      ],
      controllers: [McpController],
    };
  }
}
