import { applyDecorators, createParamDecorator, SetMetadata, UseGuards, type ExecutionContext } from '@nestjs/common';
import { GatehouseAuthGuard } from './gatehouse-auth.guard.js';
import type { GatehouseAuth } from './token-verifier.js';
import { GATEHOUSE_PUBLIC, GATEHOUSE_SCOPE_RESOLVER, GATEHOUSE_SCOPES, type ScopeResolver } from './metadata.js';

/** Requires a valid Gatehouse access token, with the module's default `requiredScopes`. On a controller or handler. */
export function Protected() {
  return applyDecorators(UseGuards(GatehouseAuthGuard));
}

/** Requires a valid token carrying every one of these scopes (instead of the module's defaults). */
export function RequireScopes(...scopes: string[]) {
  return applyDecorators(SetMetadata(GATEHOUSE_SCOPES, scopes), UseGuards(GatehouseAuthGuard));
}

/**
 * Requires the scopes `resolve` computes from each request. For MCP servers, whose tools all sit behind one
 * endpoint: `@RequireScopesFor(mcpToolScopes({ create_project: ['projects:write'] }, ['projects:read']))`.
 */
export function RequireScopesFor(resolve: ScopeResolver) {
  return applyDecorators(SetMetadata(GATEHOUSE_SCOPE_RESOLVER, resolve), UseGuards(GatehouseAuthGuard));
}

/** Opts a handler out of a controller-level @Protected() or @RequireScopes(). */
export function Public() {
  return SetMetadata(GATEHOUSE_PUBLIC, true);
}

/** The verified caller: `{ sub, clientId, scopes, token, claims }`. */
export const AuthContext = createParamDecorator((_: unknown, context: ExecutionContext): GatehouseAuth => {
  const auth = context.switchToHttp().getRequest<{ gatehouseAuth?: GatehouseAuth }>().gatehouseAuth;
  if (!auth) throw new Error('@AuthContext() used on a route without @Protected() or @RequireScopes()');
  return auth;
});
