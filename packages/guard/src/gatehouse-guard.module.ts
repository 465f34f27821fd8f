import { Module } from '@nestjs/common';
import { ConfigurableModuleClass, GATEHOUSE_GUARD_OPTIONS } from './guard.options.js';
import { GatehouseAuthGuard } from './gatehouse-auth.guard.js';
import { GatehouseTokenVerifier } from './gatehouse-token-verifier.js';
import { ProtectedResourceMetadataRoutes } from './protected-resource-metadata.routes.js';

/**
 * `GatehouseGuardModule.forRoot({ issuer, resource, … })` or `.forRootAsync({ useFactory, inject })`.
 * Import it once, in the root module; then put @Protected() or @RequireScopes(…) on controllers or handlers.
 */
@Module({
  providers: [GatehouseTokenVerifier, GatehouseAuthGuard, ProtectedResourceMetadataRoutes],
  exports: [GatehouseTokenVerifier, GatehouseAuthGuard, GATEHOUSE_GUARD_OPTIONS],
})
export class GatehouseGuardModule extends ConfigurableModuleClass {}
