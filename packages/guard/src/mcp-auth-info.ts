import type { GatehouseAuth } from './token-verifier.js';

/**
 * The MCP TypeScript SDK's `AuthInfo` (`@modelcontextprotocol/sdk/server/auth/types.js`), restated so that this
 * package needs no SDK: set as `req.auth`, `StreamableHTTPServerTransport.handleRequest` hands it to every tool and
 * request handler as `extra.authInfo`.
 */
export interface McpAuthInfo {
  token: string;
  clientId: string;
  scopes: string[];
  /** Seconds since the epoch. */
  expiresAt?: number;
  resource?: URL;
  extra?: Record<string, unknown>;
}

/** The verified caller in the SDK's shape; `extra` carries `sub` (Gatehouse's subject) and every claim. */
export function mcpAuthInfo(auth: GatehouseAuth, resource: string): McpAuthInfo {
  return {
    token: auth.token,
    clientId: auth.clientId,
    scopes: auth.scopes,
    expiresAt: auth.claims.exp,
    resource: new URL(resource),
    extra: { sub: auth.sub, claims: auth.claims },
  };
}
