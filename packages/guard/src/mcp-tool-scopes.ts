import type { ScopeResolver } from './metadata.js';

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
