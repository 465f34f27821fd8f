/**
 * gatehouse-guard/core — the guard without NestJS: verify a Gatehouse access token and get the challenge to send
 * when it is refused, from any Node HTTP server. Imports neither NestJS nor Express (only `jose` and `node:`).
 */
export type { GatehouseGuardOptions, RevocationCheck } from './options.js';
export { AccessTokenVerifier, AuthorizationServerUnavailable, TokenRejected, type GatehouseAuth } from './token-verifier.js';
export {
  GatehouseAuthError,
  sendAuthError,
  verifyAccessToken,
  type AccessTokenCredentials,
  type AccessTokenRequest,
  type GatehouseAuthErrorCode,
  type VerifyAccessTokenOptions,
} from './verify-access-token.js';
export { mcpAuthInfo, type McpAuthInfo } from './mcp-auth-info.js';
export { mcpToolScopes } from './mcp-tool-scopes.js';
export type { ScopeResolver } from './metadata.js';
export { bearerChallenge, dpopChallenge, protectedResourceMetadataUrl } from './challenge.js';
export { DPOP_ALGORITHMS, DPOP_IAT_WINDOW_SECONDS } from './dpop.js';
export {
  PROTECTED_RESOURCE_METADATA_HEADERS,
  protectedResourceMetadata,
  protectedResourceMetadataPaths,
  type ProtectedResourceMetadata,
} from './protected-resource-metadata.js';
