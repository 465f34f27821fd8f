import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { GATEHOUSE_GUARD_OPTIONS, type GatehouseGuardOptions } from './guard.options.js';
import { PROTECTED_RESOURCE_METADATA_HEADERS, protectedResourceMetadata, protectedResourceMetadataPaths } from './protected-resource-metadata.js';

/**
 * Serves the Protected Resource Metadata at `/.well-known/oauth-protected-resource` and at the path-suffixed URL
 * for the resource's path (`/.well-known/oauth-protected-resource/mcp`), which is the one the 401 challenge names.
 * Registered through the HTTP adapter, so the paths can come from the options and both Express and Fastify work.
 */
@Injectable()
export class ProtectedResourceMetadataRoutes implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @Inject(GATEHOUSE_GUARD_OPTIONS) private readonly options: GatehouseGuardOptions,
  ) {}

  onModuleInit(): void {
    const adapter = this.adapterHost.httpAdapter;
    if (!adapter) return; // an application context without HTTP
    const body = JSON.stringify(protectedResourceMetadata(this.options));
    for (const path of protectedResourceMetadataPaths(this.options.resource)) {
      adapter.get(path, (_req: unknown, res: unknown) => {
        for (const [name, value] of Object.entries(PROTECTED_RESOURCE_METADATA_HEADERS)) adapter.setHeader(res, name, value);
        adapter.reply(res, body, 200);
      });
    }
  }
}
