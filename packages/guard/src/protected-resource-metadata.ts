import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { GATEHOUSE_GUARD_OPTIONS, type GatehouseGuardOptions } from './guard.options.js';
import { protectedResourceMetadataUrl } from './challenge.js';

/** RFC 9728 §2. */
export interface ProtectedResourceMetadata {
  resource: string;
  authorization_servers: string[];
  scopes_supported?: string[];
  bearer_methods_supported: string[];
  resource_name?: string;
}

export function protectedResourceMetadata(options: GatehouseGuardOptions): ProtectedResourceMetadata {
  const document: ProtectedResourceMetadata = {
    resource: new URL(options.resource).href,
    authorization_servers: [options.issuer],
    bearer_methods_supported: ['header'],
  };
  if (options.scopesSupported) document.scopes_supported = options.scopesSupported;
  if (options.resourceName) document.resource_name = options.resourceName;
  return document;
}

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
    const paths = new Set(['/.well-known/oauth-protected-resource', new URL(protectedResourceMetadataUrl(this.options.resource)).pathname]);
    for (const path of paths) {
      adapter.get(path, (_req: unknown, res: unknown) => {
        adapter.setHeader(res, 'Content-Type', 'application/json');
        adapter.setHeader(res, 'Cache-Control', 'public, max-age=300');
        adapter.setHeader(res, 'Access-Control-Allow-Origin', '*');
        adapter.reply(res, body, 200);
      });
    }
  }
}
