/**
 * gatehouse-guard — for NestJS MCP servers protected by Gatehouse: verifies access tokens locally, enforces scopes,
 * answers with the challenges MCP clients follow, and serves Protected Resource Metadata. Needs no database and
 * imports nothing from the rest of Gatehouse. Without NestJS: `gatehouse-guard/core` and `gatehouse-guard/express`.
 */
export { GatehouseGuardModule } from './gatehouse-guard.module.js';
export { GATEHOUSE_GUARD_OPTIONS } from './guard.options.js';
export { GatehouseAuthGuard } from './gatehouse-auth.guard.js';
export { GatehouseTokenVerifier } from './gatehouse-token-verifier.js';
export { AuthContext, Protected, Public, RequireScopes, RequireScopesFor } from './decorators.js';
export * from './core.js';
