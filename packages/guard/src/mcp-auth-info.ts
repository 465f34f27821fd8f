import type { ServerResponse } from 'node:http';
import type { GatehouseAuth } from './token-verifier.js';
import type { GatehouseAuthError } from './verify-access-token.js';

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

/** Writes a refusal to a plain Node response: status, challenge, `no-store`, and the JSON body. */
export function sendAuthError(res: ServerResponse, error: GatehouseAuthError): void {
  res.statusCode = error.status;
  for (const [name, value] of Object.entries(error.headers)) {
    // Appended, not set: a CORS layer before this one may expose headers of its own (e.g. Mcp-Session-Id).
    if (name === 'Access-Control-Expose-Headers') res.appendHeader(name, value);
    else res.setHeader(name, value);
  }
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(error.body));
}
