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

/**
 * A ScopeResolver for MCP's JSON-RPC bodies: a `tools/call` (alone or in a batch) needs `base` plus the scopes of
 * the tool it names; any other message needs `base`.
 */
export function mcpToolScopes(toolScopes: Record<string, string[]>, base: string[] = []): ScopeResolver {
  return ({ body }) => {
    const needed = new Set(base);
    for (const message of Array.isArray(body) ? body : [body]) {
      if (typeof message !== 'object' || message === null) continue;
      const { method, params } = message as { method?: unknown; params?: { name?: unknown } };
      // Own keys only: a tool called "constructor" or "__proto__" is an unknown tool, not Object.prototype's member.
      if (method === 'tools/call' && typeof params?.name === 'string' && Object.hasOwn(toolScopes, params.name)) {
        for (const scope of toolScopes[params.name] ?? []) needed.add(scope);
      }
    }
    return [...needed];
  };
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
