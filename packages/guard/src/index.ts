/**
 * gatehouse-guard — for NestJS MCP servers protected by Gatehouse: verifies access tokens locally, enforces scopes,
 * answers with the challenges MCP clients follow, and serves Protected Resource Metadata. Needs no database and
 * imports nothing from the rest of Gatehouse.
 */
export { GatehouseGuardModule } from './gatehouse-guard.module.js';
export { GATEHOUSE_GUARD_OPTIONS, type GatehouseGuardOptions, type RevocationCheck } from './guard.options.js';
export { GatehouseAuthGuard } from './gatehouse-auth.guard.js';
export { AuthContext, mcpToolScopes, Protected, Public, RequireScopes, RequireScopesFor } from './decorators.js';
export type { ScopeResolver } from './metadata.js';
export { GatehouseTokenVerifier, TokenRejected, AuthorizationServerUnavailable, type GatehouseAuth } from './token-verifier.js';
export { bearerChallenge, protectedResourceMetadataUrl } from './challenge.js';
export { protectedResourceMetadata, type ProtectedResourceMetadata } from './protected-resource-metadata.js';
